"""One engine process: spawned as its own group leader, stdout kept whole, stderr split into
lines, and an exit that is observed even while a grandchild still holds the pipes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from amplifier_agent_py.constants import CANCEL_GRACE_MS, PIPE_GRACE_MS, STDERR_TAIL_CHARS

#: Enough bytes that the last 4096 characters survive even if all of them are 4-byte UTF-8.
_TAIL_BYTES = STDERR_TAIL_CHARS * 4 + 64

LineSink = Callable[[str], None]


@dataclass(frozen=True)
class Exit:
    """How a process ended: `code` is 128 + signal for a signalled process."""

    code: int
    stdout: bytes
    stderr_tail: str


def exit_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def signal_group(pgid: int, signum: int) -> None:
    """Signal the whole process group; a group that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class _Pipes(asyncio.SubprocessProtocol):
    """Collects stdout, forwards complete stderr lines, and records the exit separately from
    pipe closure (asyncio's own `wait()` blocks until every pipe holder is gone)."""

    def __init__(self, on_line: LineSink | None) -> None:
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = loop.create_future()
        self.closed = asyncio.Event()
        self.stdout = bytearray()
        self.tail = bytearray()
        self.sealed = False
        self._partial = b""
        self._on_line = on_line
        self._open = {1, 2}
        self._transport: asyncio.SubprocessTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._transport = transport

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if self.sealed:
            return
        if fd == 1:
            self.stdout += data
            return
        self.tail += data
        if len(self.tail) > _TAIL_BYTES:
            del self.tail[:-_TAIL_BYTES]
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self._emit(line)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 2 and self._partial and not self.sealed:
            self._emit(self._partial)
            self._partial = b""
        self._open.discard(fd)
        if not self._open:
            self.closed.set()

    def process_exited(self) -> None:
        assert self._transport is not None
        code = self._transport.get_returncode()
        if not self.exited.done():
            self.exited.set_result(code if code is not None else 0)

    def _emit(self, raw: bytes) -> None:
        if self._on_line is not None:
            self._on_line(raw.decode("utf-8", "replace").rstrip("\r"))


class EngineProcess:
    """A started process; `wait()` resolves on exit plus a short grace for the pipes."""

    def __init__(self, transport: asyncio.SubprocessTransport, pipes: _Pipes) -> None:
        self._transport = transport
        self._pipes = pipes
        self.pid: int = transport.get_pid()

    @classmethod
    async def start(
        cls, argv: Sequence[str], env: Mapping[str, str], on_line: LineSink | None = None
    ) -> EngineProcess:
        """Spawn detached (a new session, so PID == PGID); raises `OSError` if it cannot start."""
        loop = asyncio.get_running_loop()
        transport, pipes = await loop.subprocess_exec(
            lambda: _Pipes(on_line),
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
        )
        return cls(transport, pipes)

    async def wait(self) -> Exit:
        returncode = await asyncio.shield(self._pipes.exited)
        # A grandchild may still hold the pipes; what it writes after the grace is dropped.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._pipes.closed.wait(), PIPE_GRACE_MS / 1000)
        self._pipes.sealed = True
        self._transport.close()
        tail = self._pipes.tail.decode("utf-8", "replace")[-STDERR_TAIL_CHARS:]
        return Exit(exit_status(returncode), bytes(self._pipes.stdout), tail)

    def kill_now(self) -> None:
        """SIGKILL the group and drop the pipes, for when there is no loop left to wait on."""
        signal_group(self.pid, signal.SIGKILL)
        self._pipes.sealed = True
        self._transport.close()

    async def terminate(self, grace_ms: int = CANCEL_GRACE_MS) -> Exit:
        """SIGTERM the group, give it `grace_ms` to exit, then SIGKILL whatever is left."""
        signal_group(self.pid, signal.SIGTERM)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._pipes.exited), grace_ms / 1000)
        # Members that ignored SIGTERM (or outlived the leader) would be orphans.
        signal_group(self.pid, signal.SIGKILL)
        return await self.wait()


async def collect(argv: Sequence[str], env: Mapping[str, str], timeout_ms: int) -> Exit | None:
    """Run to completion and return its exit, or kill the group and return None on timeout."""
    process = await EngineProcess.start(argv, env)
    try:
        return await asyncio.wait_for(process.wait(), timeout_ms / 1000)
    except asyncio.TimeoutError:
        signal_group(process.pid, signal.SIGKILL)
        await process.wait()
        return None
