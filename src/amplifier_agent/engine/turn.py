"""One turn on any face: providers, routing, tools, the loop, and persisting what happened.

The engine service resolves each face's request into a `TurnSetup`; the face receives display
events and a `TurnReport`, and never touches the loop, the tools or the store directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack

from amplifier_agent.agent.loop import run_loop
from amplifier_agent.agent.routing import (
    Matrix,
    ModelChoice,
    UsableProvider,
    root_model_for_run,
    select_matrix,
)
from amplifier_agent.agent.run import TurnOutcome, TurnState
from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.core.errors import AmplifierError, ProviderNotConfigured
from amplifier_agent.core.events import DisplayEvent, ErrorReported, ResultFinal
from amplifier_agent.core.observe import NO_OBSERVER, TurnObserver, chain
from amplifier_agent.engine.providers import PoolEntry, ProviderPool
from amplifier_agent.engine.toolbox import mcp_config_path, mcp_manager
from amplifier_agent.engine.tracing import turn_tracer
from amplifier_agent.engine.turn_assembly import agent_run
from amplifier_agent.engine.turn_record import finish, internal_error
from amplifier_agent.engine.turn_types import (
    Face,
    Running,
    TurnControl,
    TurnReport,
    TurnSetup,
)
from amplifier_agent.engine.usable import ProviderRef, usable_providers

log = logging.getLogger(__name__)


async def execute_turn(setup: TurnSetup, emit: Callable[[DisplayEvent], None]) -> TurnReport:
    """Run one turn to its end, persisting it on success, failure and cancellation alike.

    The turn ends with exactly one `result/final` or one unrecoverable `error` event; an
    unexpected exception is reported as `internal` (`<ExcType>: <message>`), never raised.
    With tracing on, the turn is one span and its model and tool calls are child spans.
    """
    tracer = turn_tracer()
    if tracer is None:
        return await _execute(setup, emit, setup.observer or NO_OBSERVER)
    with tracer.turn(setup) as traced:
        report = await _execute(setup, emit, chain([setup.observer, traced]))
        traced.finish(report)
        return report


async def _execute(
    setup: TurnSetup, emit: Callable[[DisplayEvent], None], observer: TurnObserver
) -> TurnReport:
    running = Running(setup, emit, setup.pool or _pool_for(setup), _initial_state(setup))
    running.observer = observer
    async with AsyncExitStack() as stack:
        if setup.pool is None:
            stack.push_async_callback(running.pool.aclose)
        try:
            outcome = await _run(running, stack)
        except asyncio.CancelledError:
            status = setup.control.cancel_status if setup.control else "cancelled"
            await finish(running, status, None)
            raise
        except AmplifierError as error:
            report = await finish(running, "failed", error)
        except Exception as exc:  # the turn's outer edge: a bug must still end as a failed turn
            log.exception("turn %s failed unexpectedly", setup.turn_id)
            report = await finish(running, "failed", internal_error(exc))
        else:
            report = await finish(running, "completed", None, outcome)
    if report.error is None:
        emit(ResultFinal(report.reply, report.usage))
    else:
        emit(ErrorReported(report.error.code, report.error.message, recoverable=False))
    return report


def _pool_for(setup: TurnSetup) -> ProviderPool:
    return ProviderPool(pool_entries(setup.host_config, setup.active))


def pool_entries(config: HostConfig, active: ProviderRef) -> dict[str, PoolEntry]:
    """What a turn's provider pool builds from: every configured provider, and the active one."""
    entries = {p.id: (p.module, p.config) for p in config.providers or ()}
    entries[active.provider_id] = (active.module, active.config)
    return entries


def _initial_state(setup: TurnSetup) -> TurnState:
    history = list(setup.history)
    return TurnState(
        messages=[*history, *setup.new_messages],
        persisted=len(history),
        session_cost_base=setup.session_cost_base,
    )


async def _run(running: Running, stack: AsyncExitStack) -> TurnOutcome:
    setup = running.setup
    others = [ProviderRef(p.id, p.module, p.config) for p in setup.host_config.providers or ()]
    usable = list(setup.usable) if setup.usable else await usable_providers(setup.active, others)
    config = setup.host_config
    matrix = select_matrix(config.routing.matrix, config.routing.roles, setup.active.module)
    running.choice = _root_choice(setup, usable[0], matrix)
    mcp = mcp_manager(mcp_config_path(config, setup.mcp_fallback_path))
    mcp_tools = (await (await stack.enter_async_context(mcp)).tools()) if mcp else ()
    run = agent_run(running, usable, matrix, mcp_tools)
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


__all__ = [
    "Face",
    "TurnControl",
    "TurnReport",
    "TurnSetup",
    "execute_turn",
    "internal_error",
    "pool_entries",
]
