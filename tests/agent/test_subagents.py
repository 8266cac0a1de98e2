"""Packaged sub-agent definitions, frontmatter parsing, child model and child session ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from amplifier_agent.agent.routing import ModelChoice, UsableProvider, load_matrix
from amplifier_agent.agent.subagents import (
    AgentDefinition,
    child_model,
    child_session_id,
    find_agent,
    load_agents,
    parse_agent,
)
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.models import ModelInfo

EXPECTED_ROLES = {
    "explorer": ("general", "fast"),
    "architect": ("reasoning", "general"),
    "builder": ("coding", "general"),
    "debugger": ("coding", "general"),
    "git-ops": ("fast", "general"),
    "researcher": ("research", "general"),
}

PARENT = ModelChoice("anthropic", "claude-parent")


def test_packaged_agents_load_with_the_spec_roles() -> None:
    agents = load_agents()
    assert {name: a.model_roles for name, a in agents.items()} == EXPECTED_ROLES
    for agent in agents.values():
        assert agent.description
        assert "---" not in agent.system_prompt.splitlines()[0]
        # Each prompt tells the child who it is and that only its final message reaches the parent.
        assert agent.name in agent.system_prompt.splitlines()[0]
        assert "final message is the only thing the parent sees" in agent.system_prompt


def test_agent_file_with_bom_and_crlf_parses() -> None:
    text = "\ufeff---\r\nname: scout\r\ndescription: 'Looks: around'\r\n"
    text += "model_role: [fast, general]\r\n---\r\n\r\nYou scout.\r\n"
    agent = parse_agent(text)
    assert agent == AgentDefinition("scout", "Looks: around", ("fast", "general"), "You scout.")


def test_agent_roles_as_block_list_or_scalar() -> None:
    block = "---\nname: a\ndescription: d\nmodel_role:\n  - coding\n  - general\n---\nBody\n"
    assert parse_agent(block).model_roles == ("coding", "general")
    scalar = "---\nname: a\ndescription: d\nmodel_role: research\n---\nBody\n"
    assert parse_agent(scalar).model_roles == ("research",)


@pytest.mark.parametrize(
    "text",
    [
        "name: a\n",
        "---\nname: a\ndescription: d\nmodel_role: [general]\nBody\n",
        "---\ndescription: d\nmodel_role: [general]\n---\nBody\n",
        "---\nname: a\ndescription: d\nmodel_role: [telepathy]\n---\nBody\n",
        "---\nname: a\ndescription: d\nmodel_role: [general]\n---\n\n",
    ],
)
def test_bad_agent_definitions_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_agent(text)


def test_unreadable_packaged_agent_is_bundle_load_failed(tmp_path: Path) -> None:
    (tmp_path / "broken.md").write_text("no frontmatter here\n")
    with pytest.raises(AmplifierError) as info:
        load_agents(directory=tmp_path)
    assert info.value.code == "bundle_load_failed"


def test_agents_directory_override_reads_only_markdown(tmp_path: Path) -> None:
    (tmp_path / "one.md").write_text(
        "---\nname: one\ndescription: d\nmodel_role: [fast]\n---\nHi\n"
    )
    (tmp_path / "notes.txt").write_text("ignored")
    assert list(load_agents(directory=tmp_path)) == ["one"]


def test_unknown_agent_lists_valid_names() -> None:
    with pytest.raises(AmplifierError) as info:
        find_agent(load_agents(), "wizard")
    assert "explorer" in info.value.message and "git-ops" in info.value.message
    assert "self" in info.value.message
    assert find_agent(load_agents(), "builder").name == "builder"


def test_child_model_takes_first_resolving_role() -> None:
    explorer = load_agents()["explorer"]
    usable = [
        UsableProvider(
            "anthropic",
            "anthropic",
            [ModelInfo("claude-haiku-4-5", "h", 1), ModelInfo("claude-sonnet-4-5", "s", 1)],
        )
    ]
    matrix = load_matrix("balanced")
    # explorer's first role is `general`.
    assert child_model(explorer, matrix, usable, PARENT) == ModelChoice(
        "anthropic", "claude-sonnet-4-5"
    )
    git_ops = load_agents()["git-ops"]
    assert child_model(git_ops, matrix, usable, PARENT) == ModelChoice(
        "anthropic", "claude-haiku-4-5"
    )


def test_child_model_falls_through_roles_then_to_parent() -> None:
    architect = load_agents()["architect"]
    only_sonnet = [UsableProvider("anthropic", "anthropic", [ModelInfo("claude-sonnet-4", "", 1)])]
    matrix = load_matrix("balanced")
    # No opus for `reasoning`: the second role, `general`, resolves.
    assert child_model(architect, matrix, only_sonnet, PARENT) == ModelChoice(
        "anthropic", "claude-sonnet-4"
    )
    assert child_model(architect, matrix, [], PARENT) == PARENT


def test_child_session_id() -> None:
    assert child_session_id("s1", "explorer", 1) == "s1_explorer-1"
    assert child_session_id(None, "git-ops", 3) == "ephemeral_git-ops-3"
