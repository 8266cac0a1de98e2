"""Assembling the root `AgentRun` of a turn: model choice, system prompt, tools, sub-agent
delegation, context window, call options and checkpointing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from amplifier_agent.agent.delegate import Delegation
from amplifier_agent.agent.prompt import build_system_prompt
from amplifier_agent.agent.routing import Matrix, UsableProvider
from amplifier_agent.agent.run import DEFAULT_CONTEXT_WINDOW, AgentRun, CallOptions
from amplifier_agent.agent.subagents import load_agents
from amplifier_agent.core.messages import Message
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.engine.toolbox import assemble_tools, skill_catalog
from amplifier_agent.engine.turn_types import Running, TurnSetup
from amplifier_agent.providers.metadata import enrich
from amplifier_agent.store.sessions import Session
from amplifier_agent.tools.base import Tool, ToolContext

#: Output budget when neither the request, the config nor the model metadata says.
FALLBACK_MAX_TOKENS = 8192


def agent_run(
    running: Running, usable: Sequence[UsableProvider], matrix: Matrix, mcp_tools: tuple[Tool, ...]
) -> AgentRun:
    setup, state = running.setup, running.state
    assert running.choice is not None
    choice = running.choice
    catalog = skill_catalog(setup.host_config, setup.cwd)
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
        system_prompt=build_system_prompt(setup.cwd, catalog.prompt_section()),
        tools=assemble_tools(mcp_tools, catalog, delegation),
        approval=setup.approval,
        tool_context=ToolContext(cwd=setup.cwd),
        emit=running.emit,
        host_tools=setup.host_tools,
        options=call_options(setup, usable[0], choice.model),
        context_window=_context_window(setup, usable[0], choice.model),
        checkpoint=_checkpointer(setup.session),
        session_id=setup.session.session_id if setup.session else None,
    )
    delegation.parent = run
    return run


def _model_info(active: UsableProvider, model: str) -> ModelInfo:
    """What is known of `model`: its listing when it has limits, else the packaged metadata."""
    listed = next((m for m in active.models or () if m.id == model), None)
    return listed if listed and listed.context_window else enrich(ModelInfo(model, model, 0))


def call_options(setup: TurnSetup, active: UsableProvider, model: str) -> CallOptions:
    """The root calls' output budget: request > `config.max_tokens` > the model's max output >
    8192, never above the model's known max output. The local model keeps its own small default."""
    options = setup.options
    if setup.active.module == "local":
        return options
    limit = _model_info(active, model).max_output_tokens
    configured = setup.active.config.get("max_tokens")
    wanted = options.max_tokens or (configured if isinstance(configured, int) else None)
    budget = wanted or limit or FALLBACK_MAX_TOKENS
    return replace(options, max_tokens=min(budget, limit) if limit else budget)


def _context_window(setup: TurnSetup, active: UsableProvider, model: str) -> int:
    configured = setup.active.config.get("context_window")
    if isinstance(configured, int) and configured > 0:
        return configured
    known = _model_info(active, model)
    if known.context_window:
        return known.context_window
    if setup.active.module == "ollama":
        return 8192
    return DEFAULT_CONTEXT_WINDOW


def _checkpointer(session: Session | None) -> Callable[[Sequence[Message], bool], None] | None:
    if session is None:
        return None

    def checkpoint(messages: Sequence[Message], rewrite: bool) -> None:
        if rewrite:
            session.rewrite(list(messages))
        else:
            session.append(list(messages))

    return checkpoint
