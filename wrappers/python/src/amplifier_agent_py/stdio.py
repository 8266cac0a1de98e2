"""A JSON-RPC 2.0 connection to one `amplifier-agent serve stdio` process: requests written as
NDJSON lines on its stdin, responses matched by id, notifications handed to a callback, and every
request still pending failed with `EngineGone` once the process has exited."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from amplifier_agent_py.constants import CANCEL_GRACE_MS
from amplifier_agent_py.process import EngineProcess, exit_status

_log = logging.getLogger(__name__)

Notify = Callable[[dict[str, Any]], None]


class RpcFailure(Exception):
    """The engine answered a request with a JSON-RPC error object."""

    def __init__(self, error: Mapping[str, Any]) -> None:
        super().__init__(str(error.get("message", "")))
        self.error = error


class EngineGone(Exception):
    """The process exited (with `status`, 128 + signal when signalled) before answering."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the engine exited with code {status}")
        self.status = status


class StdioConnection:
    def __init__(self, notify: Notify) -> None:
        self._notify = notify
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._process: EngineProcess | None = None
        self._status: int | None = None
        self._failing: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, argv: Sequence[str], env: Mapping[str, str], notify: Notify
    ) -> StdioConnection:
        """Start the process (raises `OSError` if it cannot start) and watch for its exit."""
        connection = cls(notify)
        process = await EngineProcess.start(argv, env, on_stdout_line=connection._on_line)
        connection._process = process
        process.exited.add_done_callback(connection._on_exit)
        return connection

    @property
    def gone(self) -> bool:
        return self._status is not None

    @property
    def pid(self) -> int:
        return self._engine().pid

    async def request(self, method: str, params: Mapping[str, Any]) -> Any:
        """Send one request and wait for its result; raises `RpcFailure` or `EngineGone`."""
        if self._status is not None:
            raise EngineGone(self._status)
        request_id = next(self._ids)
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        line = json.dumps(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": dict(params)},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        self._engine().write(line.encode("utf-8") + b"\n")
        try:
            return await answer
        finally:
            self._pending.pop(request_id, None)

    def stderr_mark(self) -> int:
        return self._engine().stderr_mark()

    def stderr_since(self, mark: int) -> str:
        return self._engine().stderr_since(mark)

    async def close(self, grace_ms: int = CANCEL_GRACE_MS) -> None:
        """End of input lets the engine finish its turns and exit 0; after `grace_ms` the group
        is terminated (SIGTERM, then SIGKILL)."""
        process = self._engine()
        process.close_stdin()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.exited), grace_ms / 1000)
        await process.terminate()

    async def terminate(self) -> None:
        await self._engine().terminate()

    def kill_now(self) -> None:
        self._engine().kill_now()

    def _engine(self) -> EngineProcess:
        assert self._process is not None, "the connection has not started"
        return self._process

    def _on_line(self, line: str) -> None:
        if not line.strip():
            return
        try:
            message = json.loads(line)
        except ValueError:
            _log.warning("skipped a stdout line of the engine that is not JSON")
            return
        if not isinstance(message, dict):
            return
        if "result" in message or "error" in message:
            self._answer(message)
        elif isinstance(message.get("method"), str):
            self._notify(message)

    def _answer(self, message: dict[str, Any]) -> None:
        answer = self._pending.get(message.get("id"))  # type: ignore[arg-type]
        if answer is None or answer.done():
            return  # an answer to a line it could not read (id null), or to a forgotten request
        error = message.get("error")
        if isinstance(error, Mapping):
            answer.set_exception(RpcFailure(error))
        else:
            answer.set_result(message.get("result"))

    def _on_exit(self, exited: asyncio.Future[int]) -> None:
        # Responses written just before the exit may still be in the pipe: fail what is left
        # only once the pipes are drained.
        self._status = exit_status(exited.result())
        self._failing = asyncio.ensure_future(self._fail_pending())

    async def _fail_pending(self) -> None:
        await self._engine().wait()
        status = self._status if self._status is not None else 0
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(EngineGone(status))
