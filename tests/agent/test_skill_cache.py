"""`SkillCatalogCache`: the same catalog as a fresh discovery, with directories listed again only
after something they hold changed, and never trusted while its files are too fresh to tell apart.

Listings are counted by wrapping `Path.iterdir` (the standard library). The cache's clock is the
one seam: a discovery is dated as if it ran well after the files were written (`settled`) or
right after (`fresh`), so no test waits for the settle window to pass.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from amplifier_agent.agent.skill_cache import DEFAULT_SETTLE_NS, SkillCatalogCache
from amplifier_agent.agent.skills import SkillRoot, discover_skills, skill_roots


def write_skill(root: Path, name: str, description: str) -> Path:
    skill_dir = root / name
    skill_dir.mkdir(parents=True, exist_ok=True)
    skill_file = skill_dir / "SKILL.md"
    skill_file.write_text(f"---\nname: {name}\ndescription: {description}\n---\n\nBody.\n")
    return skill_file


def backdate(*paths: Path) -> None:
    """Give `paths` an old mtime, so an edit in the same clock tick still changes it."""
    an_hour_ago = time.time() - 3600
    for path in paths:
        os.utime(path, (an_hour_ago, an_hour_ago))


def settled() -> int:
    return time.time_ns() + DEFAULT_SETTLE_NS + 1_000_000_000


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    seen: list[Path] = []
    real_iterdir = Path.iterdir

    def counting_iterdir(self: Path) -> Iterator[Path]:
        seen.append(self)
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", counting_iterdir)
    yield seen


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj" / ".amplifier" / "skills"
    root.mkdir(parents=True)
    return root


def roots_for(tmp_path: Path, *host_dirs: Path) -> list[SkillRoot]:
    return skill_roots(
        tmp_path / "proj",
        tmp_path / "amp-home",
        tmp_path / "me",
        host_dirs,
        packaged_dir=tmp_path / "packaged",
    )


def descriptions(cache: SkillCatalogCache) -> dict[str, str]:
    return {skill.name: skill.description for skill in cache.catalog().skills}


def test_an_unchanged_tree_is_listed_once_and_matches_a_fresh_discovery(
    tmp_path: Path, project: Path, listings: list[Path]
) -> None:
    write_skill(project, "alpha", "First.")
    write_skill(project, "beta", "Second.")
    cache = SkillCatalogCache(roots_for(tmp_path), clock_ns=settled)
    catalogs = [cache.catalog() for _ in range(20)]
    assert listings.count(project) == 1
    fresh = discover_skills(
        tmp_path / "proj",
        tmp_path / "amp-home",
        tmp_path / "me",
        packaged_dir=tmp_path / "packaged",
    )
    assert all(catalog == fresh for catalog in catalogs)


def test_edits_additions_and_removals_are_each_seen_by_the_next_lookup(
    tmp_path: Path, project: Path, listings: list[Path]
) -> None:
    alpha = write_skill(project, "alpha", "First.")
    beta = write_skill(project, "beta", "Second.")
    backdate(alpha, beta, alpha.parent, beta.parent, project)
    cache = SkillCatalogCache(roots_for(tmp_path), clock_ns=settled)
    assert descriptions(cache) == {"alpha": "First.", "beta": "Second."}

    alpha.write_text("---\nname: alpha\ndescription: Fixed.\n---\n\nBody.\n")  # same size
    assert descriptions(cache) == {"alpha": "Fixed.", "beta": "Second."}
    write_skill(project, "gamma", "Third.")
    assert descriptions(cache) == {"alpha": "Fixed.", "beta": "Second.", "gamma": "Third."}
    beta.unlink()
    assert descriptions(cache) == {"alpha": "Fixed.", "gamma": "Third."}
    (project / "gamma").rename(project / "delta")
    assert list(descriptions(cache)) == ["alpha", "gamma"]  # the name comes from the file
    assert cache.catalog().get("gamma").path == project / "delta"
    assert listings.count(project) == 5


def test_a_skill_file_added_to_an_existing_directory_is_seen(tmp_path: Path, project: Path) -> None:
    (project / "later").mkdir()
    cache = SkillCatalogCache(roots_for(tmp_path), clock_ns=settled)
    assert cache.catalog().skills == ()
    write_skill(project, "later", "Now a skill.")
    assert descriptions(cache) == {"later": "Now a skill."}


def test_roots_that_appear_or_vanish_are_seen(tmp_path: Path) -> None:
    cache = SkillCatalogCache(roots_for(tmp_path), clock_ns=settled)
    assert cache.catalog().skills == ()
    user_root = tmp_path / "me" / ".amplifier" / "skills"
    write_skill(user_root, "mine", "From the user.")
    assert descriptions(cache) == {"mine": "From the user."}
    (user_root / "mine" / "SKILL.md").unlink()
    (user_root / "mine").rmdir()
    user_root.rmdir()
    assert cache.catalog().skills == ()


def test_a_host_directory_that_is_itself_a_skill_is_watched(tmp_path: Path) -> None:
    host = tmp_path / "host-skill"
    host.mkdir()
    cache = SkillCatalogCache(roots_for(tmp_path, host), clock_ns=settled)
    assert cache.catalog().skills == ()
    (host / "SKILL.md").write_text("---\nname: hosted\ndescription: Itself.\n---\n")
    assert descriptions(cache) == {"hosted": "Itself."}


def test_exclusions_apply_to_every_discovery(tmp_path: Path, project: Path) -> None:
    write_skill(project, "alpha", "First.")
    cache = SkillCatalogCache(roots_for(tmp_path), ("beta",), clock_ns=settled)
    assert list(descriptions(cache)) == ["alpha"]
    write_skill(project, "beta", "Hidden.")
    assert list(descriptions(cache)) == ["alpha"]


def test_a_discovery_of_freshly_changed_files_is_not_trusted_until_they_settle(
    tmp_path: Path, project: Path, listings: list[Path]
) -> None:
    write_skill(project, "alpha", "First.")
    now = [time.time_ns()]  # discoveries dated right after the write

    def clock() -> int:
        return now[0]

    cache = SkillCatalogCache(roots_for(tmp_path), clock_ns=clock)
    cache.catalog()
    cache.catalog()
    cache.catalog()
    assert listings.count(project) == 3  # a same-tick rewrite could not be told apart yet
    now[0] = settled()
    cache.catalog()  # the first discovery dated after the settle window
    cache.catalog()
    cache.catalog()
    assert listings.count(project) == 4
