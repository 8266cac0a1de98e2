"""`spawn_agent` and `AgentHandle`: validate, probe, then run one turn as one engine process and
stream its events (init, notifications, activity, then exactly one result or error)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amplifier_agent_py.constants import ACTIVITY_INTERVAL_MS
from amplifier_agent_py.discovery import EngineInfo, errno_name, find_binary, probe_engine
from amplifier_agent_py.environment import (
    MCP_CONFIG_VAR,
    check_env_request,
    child_env,
    encode_mcp_servers,
    remove_mcp_spill,
    write_mcp_spill,
)
from amplifier_agent_py.errors import AgentError, new_correlation_id
from amplifier_agent_py.options import (
    RunOptions,
    approval_flag,
    build_run_argv,
    check_lifecycle,
    check_session_id,
    on_event_callback,
)
from amplifier_agent_py.outcome import (
    Event,
    envelope_error,
    find_envelope,
    missing_envelope_error,
    parse_notification,
    result_event,
    synthesized_final,
)
from amplifier_agent_py.process import EngineProcess, Exit

_log = logging.getLogger(__name__)
_END: Event = {"type": "__end__"}


@dataclass(frozen=True)
class TurnSetup:
    """Everything fixed at spawn time that a turn needs."""

    binary: str
    env: Mapping[str, str]
    parent_env: Mapping[str, str]
    run: RunOptions
    mcp_document: str | None
    timeout_ms: int | None
    on_event: Callable[[Event], Any] | None


async def spawn_agent(
    *,
    session_id: str,
    resume: bool = False,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, Any] | None = None,
    approval: Any = None,
    display: Any = None,
    display_mode: str | None = "ndjson",
    workspace: str | None = None,
    mcp_servers: Any = None,
    timeout_ms: int | None = None,
    config_path: str | os.PathLike[str] | None = None,
    allow_protocol_skew: bool = False,
    lifecycle: str = "one-shot",
) -> AgentHandle:
    """Validate the options, find and probe the engine, and return a one-shot handle."""
    check_lifecycle(lifecycle)
    flag = approval_flag(approval)
    session_id = check_session_id(session_id)
    env_request = check_env_request(env)
    on_event = on_event_callback(display)
    mcp_document = encode_mcp_servers(mcp_servers)
    if timeout_ms is not None and timeout_ms <= 0:
        raise ValueError("timeout_ms must be positive")
    parent = dict(os.environ)
    child = child_env(env_request, parent)
    binary = find_binary(parent)
    info = await probe_engine(binary, child, allow_protocol_skew)
    run = RunOptions(
        session_id=session_id,
        resume=resume,
        cwd=None if cwd is None else os.fspath(cwd),
        config_path=None if config_path is None else os.fspath(config_path),
        display_mode=display_mode,
        workspace=workspace,
        approval_flag=flag,
        allow_protocol_skew=allow_protocol_skew,
    )
    setup = TurnSetup(binary, child, parent, run, mcp_document, timeout_ms, on_event)
    return AgentHandle(setup, info)


class AgentHandle:
    """One engine session for one turn: `submit` once, `cancel` at any time."""

    def __init__(self, setup: TurnSetup, info: EngineInfo) -> None:
        self._setup = setup
        self._info = info
        self._task: asyncio.Task[None] | None = None
        self._process: EngineProcess | None = None
        self._termination: asyncio.Future[Exit] | None = None
        self._cancel_requested = False
        self._hung = False
        self._saw_final = False
        self._pending_callbacks: list[asyncio.Future[Any]] = []

    @property
    def session_id(self) -> str:
        return self._setup.run.session_id

    def get_engine_info(self) -> EngineInfo:
        return self._info

    def submit(self, prompt: str) -> AsyncIterator[Event]:
        """Start the turn now and return its events; a second call is `lifecycle_unsupported`."""
        if self._task is not None:
            raise AgentError(
                "lifecycle_unsupported", "protocol", "a one-shot agent accepts a single submit"
            )
        queue: asyncio.Queue[Event] = asyncio.Queue()
        queue.put_nowait(
            {"type": "init", "session_id": self.session_id, "engine_info": self._info.to_dict()}
        )
        self._task = asyncio.get_running_loop().create_task(self._run(prompt, queue.put_nowait))
        return self._drain(queue, self._task)

    async def cancel(self) -> None:
        """Stop the running turn (SIGTERM, 5 s, SIGKILL to the group); resolves once it ended."""
        task = self._task
        if task is None or task.done():
            return
        self._cancel_requested = True  # seen by a turn whose process is still starting
        self._begin_termination()
        await asyncio.shield(task)

    async def _drain(
        self, queue: asyncio.Queue[Event], task: asyncio.Task[None]
    ) -> AsyncIterator[Event]:
        try:
            while (event := await queue.get()) is not _END:
                yield event
        finally:
            if not task.done():  # the consumer stopped listening: do not leave the turn running
                await self.cancel()

    def _begin_termination(self) -> None:
        if self._process is not None and self._termination is None:
            self._termination = asyncio.ensure_future(self._process.terminate())

    async def _run(self, prompt: str, emit: Callable[[Event], None]) -> None:
        spill: Path | None = None
        correlation_id = new_correlation_id()
        try:
            env = dict(self._setup.env)
            spill = self._write_spill(env)
            process = await self._start(prompt, env, emit)
            done = await self._supervise(process, emit)
            if self._termination is not None:
                await self._termination
            await self._finish(done, correlation_id, emit)
        except AgentError as error:
            emit(error.to_event())
        except asyncio.CancelledError:
            self._kill_now()  # the loop is going away: no time for the graceful sequence
            raise
        except Exception as exc:  # the turn task's outer edge: report, never hang the stream
            emit(AgentError("internal", "engine", f"{type(exc).__name__}: {exc}").to_event())
        finally:
            if spill is not None:
                remove_mcp_spill(spill)
            emit(_END)

    def _kill_now(self) -> None:
        if self._process is not None:
            self._process.kill_now()

    def _write_spill(self, env: dict[str, str]) -> Path | None:
        setup = self._setup
        if setup.mcp_document is None:
            return None
        try:
            path = write_mcp_spill(setup.mcp_document, setup.run.session_id, setup.parent_env)
        except OSError as exc:
            message = f"could not write the MCP config: {errno_name(exc)}"
            raise AgentError("spawn_failed", "transport", message) from exc
        env[MCP_CONFIG_VAR] = str(path)
        return path

    async def _start(
        self, prompt: str, env: Mapping[str, str], emit: Callable[[Event], None]
    ) -> EngineProcess:
        argv = build_run_argv(self._setup.binary, self._setup.run, prompt)
        try:
            process = await EngineProcess.start(argv, env, lambda line: self._on_line(line, emit))
        except OSError as exc:
            message = f"could not start {self._setup.binary}: {errno_name(exc)}"
            raise AgentError("spawn_failed", "transport", message) from exc
        self._process = process
        if self._cancel_requested:
            self._begin_termination()
        return process

    async def _supervise(self, process: EngineProcess, emit: Callable[[Event], None]) -> Exit:
        """Wait for exit, emitting `activity` every 2 s and cancelling once the timeout passes."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        interval = ACTIVITY_INTERVAL_MS / 1000
        timeout = self._setup.timeout_ms
        deadline = None if timeout is None else started + timeout / 1000
        next_tick = started + interval
        waiter = asyncio.ensure_future(process.wait())
        while True:
            wake = next_tick if deadline is None else min(next_tick, deadline)
            await asyncio.wait({waiter}, timeout=max(0.0, wake - loop.time()))
            if waiter.done():
                return waiter.result()
            now = loop.time()
            if deadline is not None and now >= deadline:
                deadline = None
                self._hung = True
                self._begin_termination()
            if now >= next_tick:
                emit({"type": "activity", "elapsed_ms": int((now - started) * 1000)})
                next_tick += interval

    def _on_line(self, line: str, emit: Callable[[Event], None]) -> None:
        event = parse_notification(line)
        if event is None:
            return
        if event["method"] == "result/final":
            self._saw_final = True
        self._deliver(event, emit)

    def _deliver(self, event: Event, emit: Callable[[Event], None]) -> None:
        """Notifications go to `display.on_event` when set, else into the stream: never both."""
        callback = self._setup.on_event
        if callback is None:
            emit(event)
            return
        try:
            returned = callback(event)
        except Exception:  # a host callback must not break the turn
            _log.exception("display.on_event raised")
            return
        if inspect.isawaitable(returned):
            self._pending_callbacks.append(asyncio.ensure_future(_awaited(returned)))

    async def _settle_callbacks(self) -> None:
        pending, self._pending_callbacks = self._pending_callbacks, []
        if pending:
            await asyncio.gather(*pending)

    async def _finish(self, done: Exit, correlation_id: str, emit: Callable[[Event], None]) -> None:
        """The one closing event: the envelope is authoritative whatever the exit code."""
        await self._settle_callbacks()
        if self._hung:
            timeout = self._setup.timeout_ms
            raise AgentError(
                "engine_hung",
                "engine",
                f"turn exceeded the {timeout} ms timeout; the engine was cancelled",
                stderr_tail=done.stderr_tail,
                correlation_id=correlation_id,
            )
        envelope = find_envelope(done.stdout)
        if envelope is None:
            raise missing_envelope_error(done, correlation_id)
        if envelope["error"] is not None:
            raise envelope_error(envelope, done.stderr_tail)
        if not self._saw_final and (self._setup.run.display_mode or "").lower() == "ndjson":
            self._deliver(synthesized_final(envelope), emit)
            await self._settle_callbacks()
        emit(result_event(envelope))


async def _awaited(value: Awaitable[Any]) -> None:
    try:
        await value
    except Exception:
        _log.exception("display.on_event raised")
