"""Skill discovery (precedence, shadowing, exclusion, invalid skills) and the skill catalog."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from amplifier_agent.agent.skills import (
    ShadowedSkill,
    SkillCatalog,
    discover_skills,
    packaged_skills_dir,
    split_frontmatter,
)
from amplifier_agent.core.errors import AmplifierError


def make_skill(root: Path, dirname: str, name: str | None = None, body: str = "Body.") -> Path:
    skill_dir = root / dirname
    skill_dir.mkdir(parents=True)
    name = name or dirname
    text = f"---\nname: {name}\ndescription: {name} from {root.name}\n---\n\n{body}\n"
    (skill_dir / "SKILL.md").write_text(text)
    return skill_dir


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "packaged": tmp_path / "packaged",
        "cwd": tmp_path / "proj",
        "home": tmp_path / "amp-home",
        "user_home": tmp_path / "me",
        "host": tmp_path / "host-skills",
    }
    for path in paths.values():
        path.mkdir()
    return paths


def discover(
    places: dict[str, Path],
    extra_dirs: Sequence[str | Path] = (),
    exclude: Sequence[str] = (),
) -> SkillCatalog:
    return discover_skills(
        places["cwd"],
        places["home"],
        places["user_home"],
        extra_dirs,
        exclude,
        packaged_dir=places["packaged"],
    )


def test_packaged_commit_message_skill_is_discovered_by_default(tmp_path: Path) -> None:
    catalog = discover_skills(tmp_path, tmp_path / "h", tmp_path / "u")
    skill = catalog.get("commit-message")
    assert skill.source == "package"
    packaged = packaged_skills_dir()
    assert packaged is not None
    assert skill.path == packaged / "commit-message"
    assert "imperative" in catalog.load("commit-message").lower()


def test_every_location_contributes_with_its_source(places: dict[str, Path]) -> None:
    make_skill(places["packaged"], "pkg")
    make_skill(places["cwd"] / ".amplifier" / "skills", "proj")
    make_skill(places["home"] / "skills", "home")
    make_skill(places["user_home"] / ".amplifier" / "skills", "mine")
    make_skill(places["host"], "hosted")
    catalog = discover(places, extra_dirs=[places["host"]])
    assert {s.name: s.source for s in catalog.skills} == {
        "pkg": "package",
        "proj": "project",
        "home": "user",
        "mine": "user",
        "hosted": "host",
    }
    assert catalog.names() == ("pkg", "proj", "home", "mine", "hosted")


def test_first_location_wins_and_later_ones_are_reported_shadowed(places: dict[str, Path]) -> None:
    make_skill(places["packaged"], "review")
    project = make_skill(places["cwd"] / ".amplifier" / "skills", "review")
    user = make_skill(places["user_home"] / ".amplifier" / "skills", "deploy")
    host = make_skill(places["host"], "other-dir", name="deploy")
    catalog = discover(places, extra_dirs=[places["host"]])
    review = catalog.get("review")
    assert review.source == "package"
    assert review.shadowed == (ShadowedSkill("project", project),)
    deploy = catalog.get("deploy")
    assert (deploy.source, deploy.path) == ("user", user)
    assert deploy.to_json()["shadowed"] == [{"source": "host", "path": str(host)}]


def test_project_shadows_user_locations(places: dict[str, Path]) -> None:
    project = make_skill(places["cwd"] / ".amplifier" / "skills", "x")
    make_skill(places["home"] / "skills", "x")
    catalog = discover(places)
    assert catalog.get("x").path == project
    assert [s.source for s in catalog.get("x").shadowed] == ["user"]


def test_same_directory_reached_twice_is_not_a_shadow(places: dict[str, Path]) -> None:
    make_skill(places["cwd"] / ".amplifier" / "skills", "x")
    catalog = discover_skills(
        places["cwd"], places["home"], places["cwd"], packaged_dir=places["packaged"]
    )
    assert catalog.get("x").shadowed == ()


def test_host_dir_may_itself_be_a_skill_and_relative_dirs_use_cwd(
    places: dict[str, Path],
) -> None:
    single = make_skill(places["host"], "solo")
    make_skill(places["cwd"] / "team-skills", "team")
    catalog = discover(places, extra_dirs=[single, "team-skills"])
    assert catalog.get("solo").path == single
    assert catalog.get("team").source == "host"


def test_exclude_hides_names_everywhere(places: dict[str, Path]) -> None:
    make_skill(places["packaged"], "secret")
    make_skill(places["home"] / "skills", "secret")
    make_skill(places["home"] / "skills", "kept")
    catalog = discover(places, exclude=["secret"])
    assert catalog.names() == ("kept",)


@pytest.mark.parametrize(
    "text",
    [
        "no frontmatter\n",
        "---\nname: Bad_Name\ndescription: d\n---\nbody\n",
        "---\nname: ok-name\n---\nbody\n",
        "---\nname: ok-name\ndescription: d\n",
        "---\nname: " + "a" * 65 + "\ndescription: d\n---\nbody\n",
    ],
)
def test_invalid_frontmatter_is_skipped_with_a_warning(
    places: dict[str, Path], caplog: pytest.LogCaptureFixture, text: str
) -> None:
    bad = places["home"] / "skills" / "bad"
    bad.mkdir(parents=True)
    (bad / "SKILL.md").write_text(text)
    make_skill(places["home"] / "skills", "good")
    with caplog.at_level(logging.WARNING):
        catalog = discover(places)
    assert catalog.names() == ("good",)
    assert any(str(bad / "SKILL.md") in record.getMessage() for record in caplog.records)


def test_directories_without_skill_md_are_ignored(places: dict[str, Path]) -> None:
    (places["home"] / "skills" / "empty").mkdir(parents=True)
    assert discover(places).names() == ()


def test_prompt_section_lists_name_and_description(places: dict[str, Path]) -> None:
    make_skill(places["packaged"], "alpha")
    make_skill(places["packaged"], "beta")
    assert discover(places).prompt_section() == (
        "alpha: alpha from packaged\nbeta: beta from packaged"
    )
    assert SkillCatalog().prompt_section() == ""


def test_load_returns_base_directory_and_body_without_frontmatter(
    places: dict[str, Path],
) -> None:
    skill_dir = make_skill(places["packaged"], "alpha", body="# Steps\n\n1. Do it.")
    assert discover(places).load("alpha") == f"Base directory: {skill_dir}\n\n# Steps\n\n1. Do it."


def test_load_unknown_skill_lists_valid_names(places: dict[str, Path]) -> None:
    make_skill(places["packaged"], "alpha")
    make_skill(places["packaged"], "beta")
    with pytest.raises(AmplifierError) as info:
        discover(places).load("gamma")
    assert "'gamma'" in info.value.message
    assert "alpha, beta" in info.value.message


def test_frontmatter_parser_handles_bom_quotes_lists_and_folding() -> None:
    text = (
        "\ufeff---\n"
        "# a comment\n"
        'name: "quoted"\n'
        "tags: [a, 'b c', d]\n"
        "description: >\n"
        "  first line\n"
        "  second: line\n"
        "---\n"
        "body\n"
    )
    fields, body = split_frontmatter(text)
    assert fields == {
        "name": "quoted",
        "tags": ("a", "b c", "d"),
        "description": "first line second: line",
    }
    assert body == "body"
