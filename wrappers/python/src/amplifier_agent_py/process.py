"""One engine process: spawned as its own group leader, stdout kept whole (or split into lines
for `serve stdio`), stderr split into lines, and an exit that is observed even while a grandchild
still holds the pipes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
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


def _parent_death_hook() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child when this process dies (the engine then
    drains and exits like on end of input); None elsewhere. libc is resolved here, before the
    fork, so the hook itself only makes the system call."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return die_with_parent


_PR_SET_PDEATHSIG = 1


class _LineSplitter:
    """Cuts a byte stream into lines (without `\n` or a trailing `\r`) for a sink."""

    def __init__(self, sink: LineSink | None) -> None:
        self._sink = sink
        self._partial = b""

    def feed(self, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self._emit(line)

    def flush(self) -> None:
        if self._partial:
            self._emit(self._partial)
            self._partial = b""

    def _emit(self, raw: bytes) -> None:
        if self._sink is not None:
            self._sink(raw.decode("utf-8", "replace").rstrip("\r"))


class _Pipes(asyncio.SubprocessProtocol):
    """Collects stdout (or splits it into lines), forwards complete stderr lines, and records
    the exit separately from pipe closure (asyncio's own `wait()` blocks until every pipe holder
    is gone)."""

    def __init__(self, on_line: LineSink | None, on_stdout_line: LineSink | None) -> None:
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = loop.create_future()
        self.closed = asyncio.Event()
        self.stdout = bytearray()
        self.tail = bytearray()
        #: Every stderr byte ever received, so a caller can take the tail written since a mark.
        self.stderr_total = 0
        self.sealed = False
        self._stderr_lines = _LineSplitter(on_line)
        self._stdout_lines = None if on_stdout_line is None else _LineSplitter(on_stdout_line)
        self._open = {1, 2}
        self._transport: asyncio.SubprocessTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._transport = transport

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if self.sealed:
            return
        if fd == 1:
            if self._stdout_lines is None:
                self.stdout += data
            else:
                self._stdout_lines.feed(data)
            return
        self.tail += data
        self.stderr_total += len(data)
        if len(self.tail) > _TAIL_BYTES:
            del self.tail[:-_TAIL_BYTES]
        self._stderr_lines.feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if not self.sealed:
            if fd == 2:
                self._stderr_lines.flush()
            elif self._stdout_lines is not None:
                self._stdout_lines.flush()
        self._open.discard(fd)
        if not self._open:
            self.closed.set()

    def process_exited(self) -> None:
        assert self._transport is not None
        code = self._transport.get_returncode()
        if not self.exited.done():
            self.exited.set_result(code if code is not None else 0)

    def stderr_since(self, mark: int) -> str:
        """The stderr written after `mark` (a past `stderr_total`), at most the kept tail."""
        count = min(self.stderr_total - mark, len(self.tail))
        text = bytes(self.tail[len(self.tail) - count :]).decode("utf-8", "replace")
        return text[-STDERR_TAIL_CHARS:]


class EngineProcess:
    """A started process; `wait()` resolves on exit plus a short grace for the pipes."""

    def __init__(self, transport: asyncio.SubprocessTransport, pipes: _Pipes) -> None:
        self._transport = transport
        self._pipes = pipes
        self.pid: int = transport.get_pid()

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        env: Mapping[str, str],
        on_line: LineSink | None = None,
        *,
        on_stdout_line: LineSink | None = None,
    ) -> EngineProcess:
        """Spawn detached (a new session, so PID == PGID); raises `OSError` if it cannot start.

        With `on_stdout_line` the process is long-lived: its stdin is a pipe (`write`,
        `close_stdin`), stdout is delivered line by line, and on Linux it is sent SIGTERM when
        this process dies, so even a host killed with SIGKILL leaves no engine behind."""
        loop = asyncio.get_running_loop()
        long_lived = on_stdout_line is not None
        transport, pipes = await loop.subprocess_exec(
            lambda: _Pipes(on_line, on_stdout_line),
            *argv,
            stdin=subprocess.PIPE if long_lived else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
            preexec_fn=_parent_death_hook() if long_lived else None,
        )
        return cls(transport, pipes)

    @property
    def exited(self) -> asyncio.Future[int]:
        """Resolves with the raw return code once the process itself has exited."""
        return self._pipes.exited

    def write(self, data: bytes) -> None:
        """Queue bytes for stdin; a process that is gone drops them (its exit says why)."""
        stdin = self._transport.get_pipe_transport(0)
        if isinstance(stdin, asyncio.WriteTransport) and not stdin.is_closing():
            stdin.write(data)

    def close_stdin(self) -> None:
        stdin = self._transport.get_pipe_transport(0)
        if stdin is not None:
            stdin.close()

    def stderr_mark(self) -> int:
        return self._pipes.stderr_total

    def stderr_since(self, mark: int) -> str:
        return self._pipes.stderr_since(mark)

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
