"""Assembling the root `AgentRun` of a turn: model choice, system prompt, tools, sub-agent
delegation, context window, call options and checkpointing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from amplifier_agent.agent.delegate import Delegation
from amplifier_agent.agent.routing import Matrix, UsableProvider
from amplifier_agent.agent.run import DEFAULT_CONTEXT_WINDOW, AgentRun, CallOptions
from amplifier_agent.agent.subagents import load_agents
from amplifier_agent.core.messages import Message
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.engine.store_writer import StoreWriter, offload
from amplifier_agent.engine.toolbox import assemble_tools
from amplifier_agent.engine.turn_statics import TurnStatics
from amplifier_agent.engine.turn_types import Running, TurnSetup
from amplifier_agent.store.protocol import StoredSession
from amplifier_agent.tools.base import Tool, ToolContext

#: Output budget when neither the request, the config nor the model metadata says.
FALLBACK_MAX_TOKENS = 8192


def agent_run(
    running: Running, usable: Sequence[UsableProvider], matrix: Matrix, mcp_tools: tuple[Tool, ...]
) -> AgentRun:
    setup, state = running.setup, running.state
    assert running.choice is not None
    choice = running.choice
    statics = setup.statics or TurnStatics(setup.host_config, setup.cwd)
    catalog = statics.skills()
    delegation = Delegation(
        agents=load_agents(),
        matrix=matrix,
        usable=usable,
        parent_choice=choice,
        provider_for=lambda c: running.pool.get(c.provider_id),
        add_usage=state.add_usage,
        session_cost_base=state.session_cost_total,
        parent_session_id=setup.session.session_id if setup.session else None,
    )
    run = AgentRun(
        provider=running.pool.get(choice.provider_id),
        provider_id=choice.provider_id,
        model=choice.model,
        system_prompt=statics.system_prompt(catalog),
        tools=assemble_tools(mcp_tools, statics.skill_tool(catalog), delegation),
        approval=setup.approval,
        tool_context=ToolContext(cwd=setup.cwd),
        emit=running.emit,
        host_tools=setup.host_tools,
        options=call_options(setup, usable[0], choice.model),
        context_window=_context_window(setup, usable[0], choice.model),
        checkpoint=_checkpointer(setup.session, setup.writer),
        session_id=setup.session.session_id if setup.session else None,
    )
    delegation.parent = run
    return run


def _model_info(setup: TurnSetup, active: UsableProvider, model: str) -> ModelInfo:
    statics = setup.statics or TurnStatics(setup.host_config, setup.cwd)
    return statics.model_info(active, model)


def call_options(setup: TurnSetup, active: UsableProvider, model: str) -> CallOptions:
    """The root calls' output budget: request > `config.max_tokens` > the model's max output >
    8192, never above the model's known max output. The local model keeps its own small default."""
    options = setup.options
    if setup.active.module == "local":
        return options
    limit = _model_info(setup, active, model).max_output_tokens
    configured = setup.active.config.get("max_tokens")
    wanted = options.max_tokens or (configured if isinstance(configured, int) else None)
    budget = wanted or limit or FALLBACK_MAX_TOKENS
    return replace(options, max_tokens=min(budget, limit) if limit else budget)


def _context_window(setup: TurnSetup, active: UsableProvider, model: str) -> int:
    configured = setup.active.config.get("context_window")
    if isinstance(configured, int) and configured > 0:
        return configured
    known = _model_info(setup, active, model)
    if known.context_window:
        return known.context_window
    if setup.active.module == "ollama":
        return 8192
    return DEFAULT_CONTEXT_WINDOW


def _checkpointer(
    session: StoredSession | None, writer: StoreWriter | None
) -> Callable[[Sequence[Message], bool], Awaitable[None]] | None:
    if session is None:
        return None

    async def checkpoint(messages: Sequence[Message], rewrite: bool) -> None:
        store = session.rewrite if rewrite else session.append
        await offload(writer, store, list(messages))

    return checkpoint
