"""`delegate` (§6.4) and `load_skill` (§6.8) run through the real loop with scripted providers."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from amplifier_agent.agent.delegate import Delegation, delegate_tool, load_skill_tool, run_child
from amplifier_agent.agent.loop import run_loop
from amplifier_agent.agent.routing import ModelChoice, UsableProvider, select_matrix
from amplifier_agent.agent.run import AgentRun, TurnState
from amplifier_agent.agent.skills import Skill, SkillCatalog
from amplifier_agent.agent.subagents import load_agents
from amplifier_agent.core.errors import ProviderError
from amplifier_agent.core.events import ResultDelta, ToolStarted, UsageReported
from amplifier_agent.core.messages import ToolMessage, UserMessage
from amplifier_agent.core.usage import Usage
from amplifier_agent.tools.base import ToolContext, ToolError
from tests.agent.test_loop import (
    SHOUT,
    Recorder,
    ScriptedProvider,
    calls,
    make_run,
    text,
)

ROOT_USAGE = Usage(100, 10, cost_usd=Decimal("0.01"))
CHILD_USAGE = Usage(40, 4, 5, 6, cost_usd=Decimal("0.002"))


@dataclass
class Turn:
    root: ScriptedProvider
    child: ScriptedProvider
    recorder: Recorder
    state: TurnState
    delegation: Delegation
    run: AgentRun  # the delegation holds it weakly, as the engine's turn does


def wire_turn(
    tmp_path: Path, root: ScriptedProvider, child: ScriptedProvider, roles: Mapping[str, list[str]]
) -> Turn:
    recorder = Recorder()
    state = TurnState([UserMessage("please delegate")], persisted=0)
    providers = {"main": root, "other": child}
    delegation = Delegation(
        agents=load_agents(),
        matrix=select_matrix(None, roles, "anthropic"),
        usable=[UsableProvider("main", "anthropic", []), UsableProvider("other", "openai", [])],
        parent_choice=ModelChoice("main", "m-1"),
        provider_for=lambda choice: providers[choice.provider_id],
        add_usage=state.add_usage,
        session_cost_base=state.session_cost_total,
        parent_session_id="s1",
    )
    tools = (SHOUT, delegate_tool(delegation))
    run = make_run(root, recorder, tmp_path, tools=tools, system_prompt="ROOT PROMPT")
    delegation.parent = run
    return Turn(root, child, recorder, state, delegation, run)


async def test_the_child_runs_on_its_routed_model_and_its_usage_counts(tmp_path: Path) -> None:
    root = ScriptedProvider(
        calls(("d1", "delegate", {"agent": "builder", "task": "fix it"}), usage=ROOT_USAGE),
        text("the builder fixed it", ROOT_USAGE),
    )
    child = ScriptedProvider(
        calls(("c1", "shout", {"text": "inner"}), usage=CHILD_USAGE),
        text("CHILD REPORT", CHILD_USAGE),
    )
    turn = wire_turn(tmp_path, root, child, {"coding": ["other/child-model"]})

    outcome = await run_loop(make_run_from(turn), turn.state)

    assert outcome.reply == "the builder fixed it"
    first_child, _ = child.requests
    assert first_child.model == "child-model"
    assert first_child.messages == (UserMessage("fix it"),)
    assert first_child.system.startswith("You are the builder")
    assert f"Working directory: {tmp_path}" in first_child.system
    assert "ROOT PROMPT" not in first_child.system
    assert [t.name for t in first_child.tools] == ["shout"]
    assert first_child.tool_choice is None
    result = root.requests[1].messages[-1]
    assert isinstance(result, ToolMessage) and result.content == "CHILD REPORT"
    assert not result.is_error

    assert turn.state.usage == ROOT_USAGE + ROOT_USAGE + CHILD_USAGE + CHILD_USAGE
    deltas = "".join(e.text for e in turn.recorder.of(ResultDelta))
    assert deltas == "the builder fixed it"
    agents = [e.agent_name for e in turn.recorder.of(UsageReported)]
    assert agents == [None, "builder", "builder", None]
    started = [(e.name, e.agent_name) for e in turn.recorder.of(ToolStarted)]
    assert started == [("delegate", None), ("shout", "builder")]
    child_totals = [e.session_cost_total_usd for e in turn.recorder.of(UsageReported)][1:3]
    assert child_totals == [Decimal("0.012"), Decimal("0.014")]


def make_run_from(turn: Turn) -> AgentRun:
    assert turn.delegation.parent is turn.run
    return turn.run


async def test_a_role_that_does_not_resolve_falls_back_to_the_parent_model(
    tmp_path: Path,
) -> None:
    root = ScriptedProvider(
        calls(("d1", "delegate", {"agent": "explorer", "task": "look"})),
        text("child says hi"),
        text("done"),
    )
    turn = wire_turn(
        tmp_path, root, ScriptedProvider(), {"fast": ["nowhere/x"], "general": ["nowhere/y"]}
    )

    await run_loop(make_run_from(turn), turn.state)

    assert [r.model for r in root.requests] == ["m-1", "m-1", "m-1"]
    assert root.requests[1].system.startswith("You are the explorer")


async def test_self_reuses_the_parent_prompt_and_model(tmp_path: Path) -> None:
    root = ScriptedProvider(
        calls(("d1", "delegate", {"agent": "self", "task": "again"})),
        text("self report"),
        text("done"),
    )
    turn = wire_turn(tmp_path, root, ScriptedProvider(), {"coding": ["other/child-model"]})

    await run_loop(make_run_from(turn), turn.state)

    parent_call, child_call, _ = root.requests
    assert (child_call.model, child_call.system) == ("m-1", "ROOT PROMPT")
    assert [t.name for t in child_call.tools] == ["shout"]
    assert [t.name for t in parent_call.tools] == ["shout", "delegate"]


async def test_an_unknown_agent_is_an_error_naming_the_valid_ones(tmp_path: Path) -> None:
    root = ScriptedProvider(calls(("d1", "delegate", {"agent": "wizard", "task": "x"})), text("ok"))
    turn = wire_turn(tmp_path, root, ScriptedProvider(), {})

    await run_loop(make_run_from(turn), turn.state)

    result = root.requests[1].messages[-1]
    assert isinstance(result, ToolMessage) and result.is_error
    assert "'wizard'" in result.content
    assert "architect, builder, debugger, explorer, git-ops, researcher, self" in result.content


async def test_a_failing_child_is_an_error_result_and_its_spending_still_counts(
    tmp_path: Path,
) -> None:
    root = ScriptedProvider(
        calls(("d1", "delegate", {"agent": "builder", "task": "x"}), usage=ROOT_USAGE),
        text("sorry", ROOT_USAGE),
    )
    child = ScriptedProvider(
        calls(("c1", "shout", {"text": "a"}), usage=CHILD_USAGE),
        ProviderError("upstream_error", "child upstream broke", status=500),
    )
    turn = wire_turn(tmp_path, root, child, {"coding": ["other/child-model"]})

    outcome = await run_loop(make_run_from(turn), turn.state)

    assert outcome.reply == "sorry"
    result = root.requests[1].messages[-1]
    assert isinstance(result, ToolMessage) and result.is_error
    assert result.content.startswith("Error: runtime: sub-agent builder failed: ")
    assert "child upstream broke" in result.content
    assert turn.state.usage == ROOT_USAGE + CHILD_USAGE + ROOT_USAGE


async def test_delegate_needs_a_parent_turn(tmp_path: Path) -> None:
    turn = wire_turn(tmp_path, ScriptedProvider(), ScriptedProvider(), {})
    turn.delegation.parent = None

    with pytest.raises(ToolError):
        await run_child(turn.delegation, "builder", "x")


async def test_load_skill_returns_the_body_or_lists_valid_names(tmp_path: Path) -> None:
    skill_dir = tmp_path / "greet"
    skill_dir.mkdir()
    (skill_dir / "SKILL.md").write_text("---\nname: greet\ndescription: Say hi\n---\nWave first.\n")
    catalog = SkillCatalog((Skill("greet", "Say hi", "project", skill_dir),))
    load = load_skill_tool(catalog)
    ctx = ToolContext(cwd=tmp_path)

    loaded = await load.run(ctx, {"name": "greet"})
    assert loaded.content == f"Base directory: {skill_dir}\n\nWave first."
    with pytest.raises(ToolError) as raised:
        await load.run(ctx, {"name": "nope"})
    assert "greet" in raised.value.message and "'nope'" in raised.value.message


def test_a_finished_turn_is_freed_without_the_cyclic_collector(tmp_path: Path) -> None:
    # The delegate tool holds the delegation, whose run holds the tool: only the weak
    # back-reference keeps that from making every turn a cycle.
    turn = wire_turn(tmp_path, ScriptedProvider(), ScriptedProvider(), {})
    gone = weakref.ref(turn.run)
    gc.disable()
    try:
        turn.run = None  # type: ignore[assignment]
        assert gone() is None
        assert turn.delegation.parent is None
    finally:
        gc.enable()
