"""`PersistentAgentHandle`: every turn of one session through one long-lived
`amplifier-agent serve stdio` process, with the events and outcome objects of a one-shot turn.

The engine starts when the handle is made (so its start-up overlaps the host's own work) and is
started again by the next turn if it has died; the turn it died in ends with `engine_exit_<N>`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from amplifier_agent_py.constants import (
    CANCEL_GRACE_MS,
    PROTOCOL_VERSION_REQUIRED_BY_WRAPPER,
    __version__,
)
from amplifier_agent_py.discovery import EngineInfo
from amplifier_agent_py.environment import MCP_CONFIG_VAR, remove_mcp_spill, write_spill
from amplifier_agent_py.errors import AgentError, new_correlation_id, start_failed
from amplifier_agent_py.options import TurnSetup, build_stdio_argv, wants_notifications
from amplifier_agent_py.outcome import (
    Event,
    engine_gone_error,
    final_notification,
    hung_error,
    rpc_error,
    turn_metadata,
    turn_result_event,
)
from amplifier_agent_py.stdio import EngineGone, RpcFailure, StdioConnection
from amplifier_agent_py.stream import TurnStream, supervise

#: Every display event protocol 0.3.0 has: what `run --display ndjson` writes.
DISPLAY_EVENTS = (
    "result/delta",
    "result/final",
    "tool/started",
    "tool/completed",
    "progress",
    "thinking/delta",
    "thinking/final",
    "usage",
    "error",
)


@dataclass
class _Engine:
    """A started connection whose session is open, and what `initialize` said."""

    connection: StdioConnection
    version: str


@dataclass
class _Turn:
    turn_id: str
    stream: TurnStream
    engine: _Engine | None = None
    cancel_requested: bool = False
    hung: bool = False
    cancelling: asyncio.Future[None] | None = None


class PersistentAgentHandle:
    """One session whose turns all run in one `serve stdio` engine: `submit` once per turn (one
    at a time), `cancel` the running one, `close` (or `async with`) to stop the engine."""

    def __init__(self, setup: TurnSetup, info: EngineInfo) -> None:
        self._setup = setup
        self._info = info
        self._turns = 0
        self._turn: _Turn | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._spill: Path | None = None
        self._opening = self._open_soon()

    @property
    def session_id(self) -> str:
        return self._setup.run.session_id

    @property
    def engine_pid(self) -> int | None:
        """The running engine's process id (None while none runs)."""
        opening = self._opening
        if not opening.done() or opening.cancelled() or opening.exception() is not None:
            return None
        connection = opening.result().connection
        return None if connection.gone else connection.pid

    def get_engine_info(self) -> EngineInfo:
        return self._info

    def submit(self, prompt: str) -> AsyncIterator[Event]:
        """Start a turn now and return its events; refused while another turn runs."""
        if self._closed:
            raise AgentError("lifecycle_unsupported", "protocol", "the agent has been closed")
        if self._task is not None and not self._task.done():
            raise AgentError(
                "session_busy",
                "protocol",
                "a turn is already running on this agent; wait for its result or cancel it",
            )
        self._turns += 1
        turn = _Turn(f"turn-{self._turns}", TurnStream(self._setup.on_event))
        turn.stream.emit(
            {"type": "init", "session_id": self.session_id, "engine_info": self._info.to_dict()}
        )
        self._turn = turn
        self._task = asyncio.get_running_loop().create_task(self._run(prompt, turn))
        return turn.stream.events(self._task, self.cancel)

    async def cancel(self) -> None:
        """Stop the running turn (`turn/cancel`; an engine that does not answer within 5 s is
        terminated); resolves once it ended. A no-op when no turn is running."""
        task, turn = self._task, self._turn
        if task is None or task.done() or turn is None:
            return
        turn.cancel_requested = True  # seen by a turn whose engine is still starting
        self._begin_cancel(turn)
        await asyncio.shield(task)

    async def close(self) -> None:
        """Cancel a running turn, then end the engine's input so it exits (terminated after
        5 s); a closed handle refuses new turns."""
        self._closed = True
        await self.cancel()
        engine = await self._opened()
        if engine is not None:
            await engine.connection.close()
        if self._spill is not None:
            remove_mcp_spill(self._spill)
            self._spill = None

    async def __aenter__(self) -> PersistentAgentHandle:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the engine ---------------------------------------------------------------------------
    def _open_soon(self) -> asyncio.Task[_Engine]:
        task = asyncio.get_running_loop().create_task(self._open())
        # A failure is reported by the turn that needs the engine; none may ever come.
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        return task

    async def _opened(self) -> _Engine | None:
        """The engine opened last, or None if opening it failed (that turn already said why)."""
        try:
            return await asyncio.shield(self._opening)
        except Exception:
            return None

    async def _ready(self) -> _Engine:
        """The open engine, started anew if it died or could not be opened before."""
        opening = self._opening
        if opening.done() and (
            opening.cancelled()
            or opening.exception() is not None
            or opening.result().connection.gone
        ):
            self._opening = opening = self._open_soon()
        return await asyncio.shield(opening)

    async def _open(self) -> _Engine:
        setup = self._setup
        env = dict(setup.env)
        if setup.mcp_document is not None:
            if self._spill is None:
                self._spill = write_spill(setup.mcp_document, self.session_id, setup.parent_env)
            env[MCP_CONFIG_VAR] = str(self._spill)
        argv = build_stdio_argv(setup.binary, setup.run)
        try:
            connection = await StdioConnection.start(argv, env, self._on_notification)
        except OSError as exc:
            raise start_failed(setup.binary, exc) from exc
        mark = connection.stderr_mark()
        try:
            answer = await connection.request("initialize", self._initialize_params())
        except RpcFailure as failure:
            await connection.close()
            raise rpc_error(dict(failure.error), connection.stderr_since(mark), "") from failure
        except EngineGone as gone:
            raise engine_gone_error(gone.status, connection.stderr_since(mark), "") from gone
        server = answer.get("serverInfo") if isinstance(answer, dict) else None
        version = server.get("version") if isinstance(server, dict) else None
        return _Engine(connection, version if isinstance(version, str) else "")

    def _initialize_params(self) -> dict[str, Any]:
        run = self._setup.run
        events = list(DISPLAY_EVENTS) if wants_notifications(run) else []
        params: dict[str, Any] = {
            "protocolVersion": PROTOCOL_VERSION_REQUIRED_BY_WRAPPER,
            "clientInfo": {"name": "amplifier-agent-py", "version": __version__},
            "capabilities": {"display": {"events": events}},
            "sessionId": run.session_id,
        }
        if run.resume:
            params["resume"] = True
        if run.allow_protocol_skew:
            params["allowProtocolSkew"] = True
        return params

    def _on_notification(self, message: dict[str, Any]) -> None:
        """A notification of this session's running turn joins its stream; others are dropped."""
        turn = self._turn
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if turn is None or params.get("sessionId") != self.session_id:
            return
        if params.get("turnId", turn.turn_id) != turn.turn_id:
            return
        turn.stream.deliver({"type": "notification", "method": message["method"], "params": params})

    # -- one turn -----------------------------------------------------------------------------
    async def _run(self, prompt: str, turn: _Turn) -> None:
        correlation_id = new_correlation_id()
        try:
            turn.engine = engine = await self._ready()
            if turn.cancel_requested:
                raise AgentError("cancelled", "engine", "the turn was cancelled before it started")
            await self._submit(engine, prompt, turn, correlation_id)
        except AgentError as error:
            turn.stream.emit(error.to_event())
        except asyncio.CancelledError:
            self._kill_now()  # the loop is going away: no time for the graceful sequence
            raise
        except Exception as exc:  # the turn task's outer edge: report, never hang the stream
            message = f"{type(exc).__name__}: {exc}"
            turn.stream.emit(AgentError("internal", "engine", message).to_event())
        finally:
            turn.stream.end()

    async def _submit(self, engine: _Engine, prompt: str, turn: _Turn, correlation_id: str) -> None:
        connection, stream = engine.connection, turn.stream
        mark = connection.stderr_mark()
        loop = asyncio.get_running_loop()
        started = loop.time()
        params = {"sessionId": self.session_id, "turnId": turn.turn_id, "prompt": prompt}
        request = asyncio.ensure_future(connection.request("turn/submit", params))
        try:
            result = await supervise(
                request, self._setup.timeout_ms, stream.emit, lambda: self._on_timeout(turn)
            )
        except (RpcFailure, EngineGone) as failure:
            await stream.settle()
            tail = connection.stderr_since(mark)
            raise self._failure(failure, turn, tail, correlation_id) from failure
        await stream.settle()
        if not isinstance(result, dict):
            result = {}
        if not stream.saw_final and wants_notifications(self._setup.run):
            stream.deliver(final_notification(result))
            await stream.settle()
        duration_ms = int((loop.time() - started) * 1000)
        metadata = turn_metadata(result, duration_ms, engine.version, correlation_id)
        stream.emit(turn_result_event(result, metadata))

    def _failure(
        self, failure: Exception, turn: _Turn, stderr_tail: str, correlation_id: str
    ) -> AgentError:
        if turn.hung:
            return hung_error(self._setup.timeout_ms, stderr_tail, correlation_id)
        if isinstance(failure, EngineGone):
            return engine_gone_error(failure.status, stderr_tail, correlation_id)
        assert isinstance(failure, RpcFailure)
        return rpc_error(dict(failure.error), stderr_tail, correlation_id)

    def _on_timeout(self, turn: _Turn) -> None:
        turn.hung = True
        self._begin_cancel(turn)

    def _begin_cancel(self, turn: _Turn) -> None:
        if turn.engine is not None and turn.cancelling is None:
            turn.cancelling = asyncio.ensure_future(self._cancel_turn(turn.engine, turn.turn_id))

    async def _cancel_turn(self, engine: _Engine, turn_id: str) -> None:
        params = {"sessionId": self.session_id, "turnId": turn_id}
        try:
            await asyncio.wait_for(
                engine.connection.request("turn/cancel", params), CANCEL_GRACE_MS / 1000
            )
        except (RpcFailure, EngineGone):
            pass  # the turn ended anyway, or the engine is gone and the turn fails with it
        except asyncio.TimeoutError:
            await engine.connection.terminate()  # an engine that cannot cancel is replaced

    def _kill_now(self) -> None:
        turn = self._turn
        if turn is not None and turn.engine is not None:
            turn.engine.connection.kill_now()
