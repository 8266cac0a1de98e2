"""`spawn_agent` and `AgentHandle`: validate, probe, then run one turn as one engine process and
stream its events (init, notifications, activity, then exactly one result or error)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Literal, overload

from amplifier_agent_py.discovery import EngineInfo, find_binary, probe_engine
from amplifier_agent_py.environment import (
    MCP_CONFIG_VAR,
    check_env_request,
    child_env,
    encode_mcp_servers,
    remove_mcp_spill,
    write_spill,
)
from amplifier_agent_py.errors import AgentError, new_correlation_id, start_failed
from amplifier_agent_py.options import (
    RunOptions,
    TurnSetup,
    approval_flag,
    build_run_argv,
    check_lifecycle,
    check_session_id,
    on_event_callback,
    wants_notifications,
)
from amplifier_agent_py.outcome import (
    Event,
    envelope_error,
    find_envelope,
    hung_error,
    missing_envelope_error,
    parse_notification,
    result_event,
    synthesized_final,
)
from amplifier_agent_py.persistent import PersistentAgentHandle
from amplifier_agent_py.process import EngineProcess, Exit
from amplifier_agent_py.stream import TurnStream, supervise


@overload
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
    lifecycle: Literal["persistent"],
) -> PersistentAgentHandle: ...


@overload
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
    lifecycle: Literal["one-shot"] = ...,
) -> AgentHandle: ...


@overload
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
    lifecycle: str = ...,
) -> AgentHandle | PersistentAgentHandle: ...


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
) -> AgentHandle | PersistentAgentHandle:
    """Validate the options, find and probe the engine, and return a handle: one-shot (one
    `run` process for one turn) or persistent (one `serve stdio` process for every turn)."""
    mode = check_lifecycle(lifecycle)
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
    if mode == "persistent":
        return PersistentAgentHandle(setup, info)
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
        stream = TurnStream(self._setup.on_event)
        stream.emit(
            {"type": "init", "session_id": self.session_id, "engine_info": self._info.to_dict()}
        )
        self._task = asyncio.get_running_loop().create_task(self._run(prompt, stream))
        return stream.events(self._task, self.cancel)

    async def cancel(self) -> None:
        """Stop the running turn (SIGTERM, 5 s, SIGKILL to the group); resolves once it ended."""
        task = self._task
        if task is None or task.done():
            return
        self._cancel_requested = True  # seen by a turn whose process is still starting
        self._begin_termination()
        await asyncio.shield(task)

    async def close(self) -> None:
        """Cancel a running turn; a one-shot handle holds nothing else."""
        await self.cancel()

    def _begin_termination(self) -> None:
        if self._process is not None and self._termination is None:
            self._termination = asyncio.ensure_future(self._process.terminate())

    def _on_timeout(self) -> None:
        self._hung = True
        self._begin_termination()

    async def _run(self, prompt: str, stream: TurnStream) -> None:
        spill: Path | None = None
        correlation_id = new_correlation_id()
        try:
            env = dict(self._setup.env)
            spill = self._write_spill(env)
            process = await self._start(prompt, env, stream)
            waiter = asyncio.ensure_future(process.wait())
            done = await supervise(waiter, self._setup.timeout_ms, stream.emit, self._on_timeout)
            if self._termination is not None:
                await self._termination
            await self._finish(done, correlation_id, stream)
        except AgentError as error:
            stream.emit(error.to_event())
        except asyncio.CancelledError:
            self._kill_now()  # the loop is going away: no time for the graceful sequence
            raise
        except Exception as exc:  # the turn task's outer edge: report, never hang the stream
            stream.emit(AgentError("internal", "engine", f"{type(exc).__name__}: {exc}").to_event())
        finally:
            if spill is not None:
                remove_mcp_spill(spill)
            stream.end()

    def _kill_now(self) -> None:
        if self._process is not None:
            self._process.kill_now()

    def _write_spill(self, env: dict[str, str]) -> Path | None:
        setup = self._setup
        if setup.mcp_document is None:
            return None
        path = write_spill(setup.mcp_document, setup.run.session_id, setup.parent_env)
        env[MCP_CONFIG_VAR] = str(path)
        return path

    async def _start(
        self, prompt: str, env: Mapping[str, str], stream: TurnStream
    ) -> EngineProcess:
        argv = build_run_argv(self._setup.binary, self._setup.run, prompt)
        try:
            process = await EngineProcess.start(argv, env, lambda line: _on_line(line, stream))
        except OSError as exc:
            raise start_failed(self._setup.binary, exc) from exc
        self._process = process
        if self._cancel_requested:
            self._begin_termination()
        return process

    async def _finish(self, done: Exit, correlation_id: str, stream: TurnStream) -> None:
        """The one closing event: the envelope is authoritative whatever the exit code."""
        await stream.settle()
        if self._hung:
            raise hung_error(self._setup.timeout_ms, done.stderr_tail, correlation_id)
        envelope = find_envelope(done.stdout)
        if envelope is None:
            raise missing_envelope_error(done, correlation_id)
        if envelope["error"] is not None:
            raise envelope_error(envelope, done.stderr_tail)
        if not stream.saw_final and wants_notifications(self._setup.run):
            stream.deliver(synthesized_final(envelope))
            await stream.settle()
        stream.emit(result_event(envelope))


def _on_line(line: str, stream: TurnStream) -> None:
    event = parse_notification(line)
    if event is not None:
        stream.deliver(event)
