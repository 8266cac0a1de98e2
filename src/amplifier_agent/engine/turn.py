"""One turn on any face: providers, routing, tools, the loop, and persisting what happened.

Faces describe the turn (`TurnSetup`) and receive display events and a `TurnReport`; they never
touch the loop, the tools or the store directly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

from amplifier_agent.agent.approval import ApprovalPolicy
from amplifier_agent.agent.delegate import Delegation
from amplifier_agent.agent.loop import run_loop
from amplifier_agent.agent.prompt import build_system_prompt
from amplifier_agent.agent.routing import (
    Matrix,
    ModelChoice,
    UsableProvider,
    root_model_for_run,
    select_matrix,
)
from amplifier_agent.agent.run import (
    DEFAULT_CONTEXT_WINDOW,
    AgentRun,
    CallOptions,
    TurnOutcome,
    TurnState,
)
from amplifier_agent.agent.subagents import load_agents
from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.config.paths import layout
from amplifier_agent.core.errors import AmplifierError, ProviderNotConfigured
from amplifier_agent.core.events import DisplayEvent, ErrorReported, ResultFinal
from amplifier_agent.core.messages import AssistantMessage, Message, ToolCall, ToolSpec
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.core.usage import Usage
from amplifier_agent.engine.providers import ProviderPool
from amplifier_agent.engine.toolbox import (
    assemble_tools,
    mcp_config_path,
    mcp_manager,
    skill_catalog,
)
from amplifier_agent.engine.usable import ProviderRef, usable_providers
from amplifier_agent.providers.metadata import enrich
from amplifier_agent.store.ledger import LedgerRecord, LedgerStatus, append_ledger
from amplifier_agent.store.metadata import LastTurn
from amplifier_agent.store.sessions import Session
from amplifier_agent.tools.base import Tool, ToolContext

Face = Literal["cli", "http", "dispatch"]
log = logging.getLogger(__name__)


@dataclass
class TurnControl:
    """Set by a face before it cancels a turn, so the turn is recorded with the right status."""

    cancel_status: LedgerStatus = "cancelled"


@dataclass(frozen=True, slots=True)
class TurnSetup:
    """Everything a face decides about a turn before it runs."""

    face: Face
    cwd: Path
    workspace: str
    turn_id: str
    request_id: str
    host_config: HostConfig
    active: ProviderRef
    approval: ApprovalPolicy
    new_messages: tuple[Message, ...]
    history: tuple[Message, ...] = ()
    session: Session | None = None
    model: str | None = None
    host_tools: tuple[ToolSpec, ...] = ()
    options: CallOptions = field(default_factory=CallOptions)
    mcp_fallback_path: str | None = None
    #: A long-lived pool (the server's); without one the turn builds and closes its own.
    pool: ProviderPool | None = None
    #: Lets the face say why it cancels the turn (client gone, server shutting down).
    control: TurnControl | None = None
    #: The providers routing may use, when the face already knows them (the server's registry).
    usable: tuple[UsableProvider, ...] | None = None


@dataclass(frozen=True, slots=True)
class TurnReport:
    session_id: str
    turn_id: str
    reply: str
    usage: Usage
    duration_ms: int
    error: AmplifierError | None = None
    host_calls: tuple[ToolCall, ...] = ()
    provider_id: str = ""
    model: str = ""


@dataclass
class _Running:
    """Per-turn working objects, closed together at the end."""

    setup: TurnSetup
    emit: Callable[[DisplayEvent], None]
    pool: ProviderPool
    state: TurnState
    started: float = field(default_factory=time.monotonic)
    choice: ModelChoice | None = None

    def duration_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


async def execute_turn(setup: TurnSetup, emit: Callable[[DisplayEvent], None]) -> TurnReport:
    """Run one turn to its end, persisting it on success, failure and cancellation alike.

    The turn ends with exactly one `result/final` or one unrecoverable `error` event; an
    unexpected exception is reported as `internal` (`<ExcType>: <message>`), never raised.
    """
    running = _Running(setup, emit, setup.pool or _pool_for(setup), _initial_state(setup))
    async with AsyncExitStack() as stack:
        if setup.pool is None:
            stack.push_async_callback(running.pool.aclose)
        try:
            outcome = await _run(running, stack)
        except asyncio.CancelledError:
            _finish(running, setup.control.cancel_status if setup.control else "cancelled", None)
            raise
        except AmplifierError as error:
            report = _finish(running, "failed", error)
        except Exception as exc:  # the turn's outer edge: a bug must still end as a failed turn
            log.exception("turn %s failed unexpectedly", setup.turn_id)
            report = _finish(running, "failed", internal_error(exc))
        else:
            report = _finish(running, "completed", None, outcome)
    if report.error is None:
        emit(ResultFinal(report.reply, report.usage))
    else:
        emit(ErrorReported(report.error.code, report.error.message, recoverable=False))
    return report


def internal_error(exc: BaseException) -> AmplifierError:
    return AmplifierError(f"{type(exc).__name__}: {exc}", code="internal")


def _pool_for(setup: TurnSetup) -> ProviderPool:
    entries = {p.id: (p.module, p.config) for p in setup.host_config.providers or ()}
    entries[setup.active.provider_id] = (setup.active.module, setup.active.config)
    return ProviderPool(entries)


def _initial_state(setup: TurnSetup) -> TurnState:
    history = list(setup.history)
    metadata = setup.session.read_metadata() if setup.session else None
    base = Decimal(0) if metadata is None else metadata.cost_usd_total
    return TurnState(
        messages=[*history, *setup.new_messages], persisted=len(history), session_cost_base=base
    )


async def _run(running: _Running, stack: AsyncExitStack) -> TurnOutcome:
    setup = running.setup
    others = [ProviderRef(p.id, p.module, p.config) for p in setup.host_config.providers or ()]
    usable = list(setup.usable) if setup.usable else await usable_providers(setup.active, others)
    config = setup.host_config
    matrix = select_matrix(config.routing.matrix, config.routing.roles, setup.active.module)
    running.choice = _root_choice(setup, usable[0], matrix)
    mcp = mcp_manager(mcp_config_path(config, setup.mcp_fallback_path))
    mcp_tools = (await (await stack.enter_async_context(mcp)).tools()) if mcp else ()
    run = _agent_run(running, usable, matrix, mcp_tools)
    stack.callback(run.tool_context.processes.kill_all)
    return await run_loop(run, running.state)


def _root_choice(setup: TurnSetup, active: UsableProvider, matrix: Matrix) -> ModelChoice:
    if setup.model is not None:
        return ModelChoice(setup.active.provider_id, setup.model)
    choice = root_model_for_run(active, setup.active.config, matrix)
    if choice is None:
        raise ProviderNotConfigured(
            f"no model for provider {setup.active.provider_id}: set provider.config.default_model"
        )
    return choice


def _agent_run(
    running: _Running, usable: Sequence[UsableProvider], matrix: Matrix, mcp_tools: tuple[Tool, ...]
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
        options=setup.options,
        context_window=_context_window(setup, usable[0], choice.model),
        checkpoint=_checkpointer(setup.session),
        session_id=setup.session.session_id if setup.session else None,
    )
    delegation.parent = run
    return run


def _context_window(setup: TurnSetup, active: UsableProvider, model: str) -> int:
    configured = setup.active.config.get("context_window")
    if isinstance(configured, int) and configured > 0:
        return configured
    listed = next((m for m in active.models or () if m.id == model), None)
    known = listed if listed and listed.context_window else enrich(ModelInfo(model, model, 0))
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


_LAST_TURN: dict[LedgerStatus, LastTurn] = {
    "completed": "complete",
    "failed": "failed",
    "cancelled": "cancelled",
    "client_disconnected": "client_disconnected",
    "shutdown": "cancelled",
}


def _finish(
    running: _Running,
    status: LedgerStatus,
    error: AmplifierError | None,
    outcome: TurnOutcome | None = None,
) -> TurnReport:
    """Persist the transcript tail, metadata and ledger line; then describe the turn.

    A turn whose session cannot be stored fails with that storage error (unless it had already
    failed); the ledger line is written either way.
    """
    setup, state = running.setup, running.state
    storage_error = _persist(running, status)
    if storage_error is not None and error is None:
        error, outcome = storage_error, None
        status = "failed" if status == "completed" else status
    choice = running.choice
    append_ledger(
        layout().usage_ledger,
        LedgerRecord.from_usage(
            state.usage,
            face=setup.face,
            workspace=setup.workspace,
            session_id=setup.session.session_id if setup.session else "",
            turn_id=setup.turn_id,
            request_id=setup.request_id,
            status=status,
            provider=choice.provider_id if choice else setup.active.provider_id,
            model=choice.model if choice else (setup.model or ""),
            usage_estimated=not state.usage_reported and state.model_calls > 0,
            duration_ms=running.duration_ms(),
        ),
    )
    return TurnReport(
        session_id=setup.session.session_id if setup.session else "",
        turn_id=setup.turn_id,
        reply=outcome.reply if outcome else "",
        usage=state.usage,
        duration_ms=running.duration_ms(),
        error=error,
        host_calls=outcome.host_calls if outcome else (),
        provider_id=choice.provider_id if choice else setup.active.provider_id,
        model=choice.model if choice else (setup.model or ""),
    )


def _persist(running: _Running, status: LedgerStatus) -> AmplifierError | None:
    """Store the transcript tail and the metadata; a failure is returned, never raised."""
    session = running.setup.session
    try:
        _persist_partial(running)
        if session is not None:
            session.update_metadata(
                running.state.usage, _LAST_TURN[status], cwd=str(running.setup.cwd)
            )
    except AmplifierError as error:
        log.warning("could not store the session: %s", error)
        return error
    except OSError as exc:
        log.warning("could not store the session: %s", exc)
        return internal_error(exc)
    return None


def _persist_partial(running: _Running) -> None:
    """Store whatever the turn produced that no checkpoint stored yet (partial text included)."""
    session, state = running.setup.session, running.state
    if state.partial_text:
        state.messages.append(AssistantMessage(content=state.partial_text, interrupted=True))
        state.partial_text = ""
    if session is None:
        return
    if state.needs_rewrite:
        session.rewrite(list(state.messages))
    elif len(state.messages) > state.persisted:
        session.append(list(state.messages[state.persisted :]))
    state.persisted, state.needs_rewrite = len(state.messages), False


__all__ = ["Face", "TurnControl", "TurnReport", "TurnSetup", "execute_turn"]
