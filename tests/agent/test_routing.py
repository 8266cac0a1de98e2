"""Routing matrices: the shipped tables, selection, role resolution and the `run` root model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amplifier_agent.agent.routing import (
    Matrix,
    ModelChoice,
    UsableProvider,
    load_matrix,
    resolve_role,
    root_model_for_run,
    select_matrix,
)
from amplifier_agent.core.catalog import MATRIX_NAMES, ROLES, matrix_name_for
from amplifier_agent.core.errors import AmplifierError, ConfigError
from amplifier_agent.core.models import ModelInfo


def model(model_id: str, created: int = 0) -> ModelInfo:
    return ModelInfo(id=model_id, display_name=model_id, created=created)


def roles_of(matrix: Matrix) -> dict[str, list[str]]:
    return {role: [str(c) for c in candidates] for role, candidates in matrix.roles.items()}


SONNET, HAIKU, OPUS = (
    "anthropic/claude-sonnet-*",
    "anthropic/claude-haiku-*",
    "anthropic/claude-opus-*",
)


@pytest.mark.parametrize(
    ("name", "general", "fast", "reasoning"),
    [
        (
            "balanced",
            [SONNET, "openai/gpt-5", "ollama/*"],
            [HAIKU, "openai/gpt-5-mini", "ollama/*"],
            [OPUS, "openai/gpt-5", "ollama/*"],
        ),
        (
            "quality",
            [OPUS, "openai/gpt-5", SONNET, "ollama/*"],
            [SONNET, "openai/gpt-5", "ollama/*"],
            [OPUS, "openai/gpt-5", "ollama/*"],
        ),
        (
            "economy",
            [HAIKU, "openai/gpt-5-mini", "ollama/*"],
            [HAIKU, "openai/gpt-5-nano", "ollama/*"],
            [SONNET, "openai/gpt-5-mini", "ollama/*"],
        ),
        ("anthropic", [SONNET], [HAIKU], [OPUS, SONNET]),
        ("openai", ["openai/gpt-5"], ["openai/gpt-5-mini"], ["openai/gpt-5"]),
        ("ollama", ["ollama/*"], ["ollama/*"], ["ollama/*"]),
    ],
)
def test_shipped_matrices_match_the_spec_table(
    name: str, general: list[str], fast: list[str], reasoning: list[str]
) -> None:
    matrix = load_matrix(name)
    assert matrix.name == name
    assert roles_of(matrix) == {
        "general": general,
        "coding": general,
        "research": general,
        "fast": fast,
        "reasoning": reasoning,
    }


def test_every_shipped_matrix_has_exactly_the_five_roles() -> None:
    assert ROLES == ("general", "fast", "reasoning", "coding", "research")
    for name in MATRIX_NAMES:
        assert set(load_matrix(name).roles) == set(ROLES)


def test_unknown_matrix_name_lists_valid_names() -> None:
    with pytest.raises(ConfigError) as info:
        load_matrix("premium")
    assert info.value.code.startswith("config_")
    for name in MATRIX_NAMES:
        assert name in info.value.message


@pytest.mark.parametrize(
    "content",
    ["{not json", json.dumps({"name": "openai", "roles": {"general": ["openai/gpt-5"]}}), "[]"],
)
def test_unreadable_matrix_data_is_bundle_load_failed(tmp_path: Path, content: str) -> None:
    (tmp_path / "openai.json").write_text(content)
    with pytest.raises(AmplifierError) as info:
        load_matrix("openai", directory=tmp_path)
    assert info.value.code == "bundle_load_failed"


def test_missing_matrix_file_is_bundle_load_failed(tmp_path: Path) -> None:
    with pytest.raises(AmplifierError) as info:
        load_matrix("balanced", directory=tmp_path)
    assert info.value.code == "bundle_load_failed"


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("anthropic", "anthropic"),
        ("openai", "openai"),
        ("azure-openai", "openai"),
        ("ollama", "ollama"),
        ("chat-completions", "balanced"),
        ("local", "balanced"),
    ],
)
def test_matrix_follows_the_active_provider_family(module: str, expected: str) -> None:
    assert matrix_name_for(None, module) == (expected, "provider_family")
    assert select_matrix(None, {}, module).name == expected


def test_configured_matrix_wins_over_family() -> None:
    assert matrix_name_for("economy", "anthropic") == ("economy", "host_config")
    assert select_matrix("economy", {}, "anthropic").name == "economy"


def test_no_active_provider_means_balanced_by_default() -> None:
    assert matrix_name_for(None, None) == ("balanced", "default")


def test_routing_roles_replace_only_the_named_roles() -> None:
    matrix = select_matrix(None, {"fast": ["ollama/qwen*", "*/tiny"]}, "anthropic")
    assert roles_of(matrix)["fast"] == ["ollama/qwen*", "*/tiny"]
    assert roles_of(matrix)["general"] == [SONNET]
    assert roles_of(load_matrix("anthropic"))["fast"] == [HAIKU]


def test_routing_roles_reject_unknown_role_and_bad_candidate() -> None:
    with pytest.raises(ConfigError):
        load_matrix("balanced").with_roles({"thinking": ["openai/gpt-5"]})
    with pytest.raises(ConfigError):
        load_matrix("balanced").with_roles({"fast": ["gpt-5"]})


def test_glob_picks_newest_created_with_greatest_id_on_ties() -> None:
    models = [
        model("claude-sonnet-4-0", 100),
        model("claude-sonnet-4-5", 300),
        model("claude-sonnet-4-5-b", 300),
        model("claude-opus-4-1", 900),
        model("claude-sonnet-3-7", 200),
    ]
    usable = [UsableProvider("anthropic", "anthropic", models)]
    choice = resolve_role(load_matrix("anthropic"), "general", usable)
    assert choice == ModelChoice("anthropic", "claude-sonnet-4-5-b")


def test_candidate_provider_matches_by_id_or_module() -> None:
    by_module = [UsableProvider("work", "anthropic", [model("claude-haiku-4-5", 1)])]
    assert resolve_role(load_matrix("anthropic"), "fast", by_module) == ModelChoice(
        "work", "claude-haiku-4-5"
    )
    # A provider id equal to the candidate's prefix matches even with another module.
    by_id = [UsableProvider("openai", "azure-openai", None)]
    assert resolve_role(load_matrix("openai"), "fast", by_id) == ModelChoice("openai", "gpt-5-mini")


def test_unrelated_provider_does_not_match() -> None:
    usable = [UsableProvider("work", "chat-completions", [model("claude-sonnet-4-5", 1)])]
    assert resolve_role(load_matrix("anthropic"), "general", usable) is None


def test_star_provider_matches_any_usable_provider() -> None:
    matrix = load_matrix("balanced").with_roles({"fast": ["*/small-*"]})
    usable = [
        UsableProvider("a", "openai", [model("big-1", 5)]),
        UsableProvider("b", "chat-completions", [model("small-1", 1), model("small-2", 2)]),
    ]
    assert resolve_role(matrix, "fast", usable) == ModelChoice("b", "small-2")


def test_non_glob_pattern_is_used_as_is_without_a_listing() -> None:
    usable = [UsableProvider("openai", "openai", None)]
    assert resolve_role(load_matrix("balanced"), "general", usable) == ModelChoice(
        "openai", "gpt-5"
    )
    listed_without_it = [UsableProvider("openai", "openai", [model("gpt-4o", 1)])]
    assert resolve_role(load_matrix("balanced"), "general", listed_without_it) == ModelChoice(
        "openai", "gpt-5"
    )


def test_unlisted_provider_cannot_serve_a_glob() -> None:
    usable = [UsableProvider("ollama", "ollama", None)]
    assert resolve_role(load_matrix("ollama"), "general", usable) is None


def test_candidates_are_tried_in_order() -> None:
    usable = [
        UsableProvider("oll", "ollama", [model("llama3", 1)]),
        UsableProvider("openai", "openai", None),
        UsableProvider("anthropic", "anthropic", [model("claude-sonnet-4-5", 1)]),
    ]
    balanced = load_matrix("balanced")
    assert resolve_role(balanced, "general", usable) == ModelChoice(
        "anthropic", "claude-sonnet-4-5"
    )
    # No opus is listed, so `reasoning` falls through to the second candidate.
    assert resolve_role(balanced, "reasoning", usable) == ModelChoice("openai", "gpt-5")
    assert resolve_role(balanced, "fast", usable[:1]) == ModelChoice("oll", "llama3")


def test_root_model_prefers_configured_default_model() -> None:
    active = UsableProvider("anthropic", "anthropic", [model("claude-sonnet-4-5", 1)])
    choice = root_model_for_run(active, {"default_model": "claude-x"}, load_matrix("anthropic"))
    assert choice == ModelChoice("anthropic", "claude-x")


def test_root_model_then_uses_role_general_on_the_active_provider_only() -> None:
    active = UsableProvider("anthropic", "anthropic", [model("claude-sonnet-9", 1)])
    assert root_model_for_run(active, {}, load_matrix("anthropic")) == ModelChoice(
        "anthropic", "claude-sonnet-9"
    )
    # With no sonnet listed, `balanced` general has nothing this provider can serve (gpt-5 is an
    # openai candidate), so the catalog fallback applies.
    bare = UsableProvider("anthropic", "anthropic", [])
    assert root_model_for_run(bare, {}, load_matrix("balanced")) == ModelChoice(
        "anthropic", "claude-sonnet-4-5"
    )


def test_root_model_falls_back_to_the_catalog_then_none() -> None:
    listless = UsableProvider("mine", "chat-completions", None)
    assert root_model_for_run(listless, {}, load_matrix("balanced")) == ModelChoice(
        "mine", "default"
    )
    azure = UsableProvider("az", "azure-openai", None)
    assert root_model_for_run(azure, {}, load_matrix("anthropic")) is None


def test_root_model_for_ollama_falls_back_to_newest_listed() -> None:
    active = UsableProvider("ollama", "ollama", [model("llama3", 5), model("qwen3", 9)])
    assert root_model_for_run(active, {}, load_matrix("openai")) == ModelChoice("ollama", "qwen3")
    assert root_model_for_run(active, {}, load_matrix("ollama")) == ModelChoice("ollama", "qwen3")
