"""The byte ends of `serve stdio`: NDJSON lines read from a file descriptor under a size cap, and
frames written to another by one writer thread, each whole and in order.

Both ends use a thread rather than the event loop's pipe support: it works for every kind of
descriptor (pipes, ttys, regular files), and a host that stops reading stdout never blocks the
loop, so cancels and other sessions' turns are still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from amplifier_agent.wire.framing import encode

log = logging.getLogger(__name__)

#: The longest line accepted, like the HTTP face's body limit.
MAX_LINE_BYTES = 16 * 1024 * 1024
_CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Oversized:
    """A line longer than the cap: reported once, the rest of it discarded."""

    cap: int


Line = bytes | Oversized


class LineSplitter:
    """Lines (without their `\\n`) from arbitrary chunks; a line growing past `cap` becomes one
    `Oversized` as soon as it does, and the rest of it, up to its newline, is dropped."""

    def __init__(self, cap: int = MAX_LINE_BYTES) -> None:
        self._cap = cap
        self._pending = bytearray()
        self._discarding = False

    def feed(self, chunk: bytes) -> list[Line]:
        lines: list[Line] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            self._take(chunk[start:] if end < 0 else chunk[start:end], lines)
            if end < 0:
                return lines
            if not self._discarding:
                lines.append(bytes(self._pending))
            self._pending.clear()
            self._discarding = False
            start = end + 1

    def close(self) -> list[Line]:
        """The unterminated last line, if any."""
        tail: list[Line] = [bytes(self._pending)] if self._pending and not self._discarding else []
        self._pending.clear()
        self._discarding = False
        return tail

    def _take(self, piece: bytes, lines: list[Line]) -> None:
        if self._discarding:
            return
        if len(self._pending) + len(piece) > self._cap:
            self._pending.clear()
            self._discarding = True
            lines.append(Oversized(self._cap))
            return
        self._pending += piece


async def read_lines(fd: int, cap: int = MAX_LINE_BYTES) -> AsyncIterator[Line]:
    """The lines of `fd` until end of input (or a read error, logged), read by a daemon thread."""
    loop = asyncio.get_running_loop()
    batches: asyncio.Queue[list[Line] | None] = asyncio.Queue()

    def hand_over(batch: list[Line] | None) -> None:
        # A closed loop means nobody reads any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(batches.put_nowait, batch)

    def pump() -> None:
        splitter = LineSplitter(cap)
        try:
            while chunk := os.read(fd, _CHUNK_BYTES):
                if lines := splitter.feed(chunk):
                    hand_over(lines)
        except OSError as exc:
            log.warning("reading the requests failed: %s", exc)
        hand_over(splitter.close())
        hand_over(None)

    threading.Thread(target=pump, name="stdio-reader", daemon=True).start()
    while (batch := await batches.get()) is not None:
        for line in batch:
            yield line


class FrameWriter:
    """Writes each message as one NDJSON frame from a single thread, in the order `send` was
    called. Once a write fails (the host closed its end) later frames are dropped."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._frames: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._broken = False
        self._thread = threading.Thread(target=self._run, name="stdio-writer", daemon=True)
        self._thread.start()

    def send(self, message: Mapping[str, Any]) -> None:
        self._frames.put(encode(message))

    def close(self, timeout: float) -> None:
        """Write what is queued (for at most `timeout` seconds), then stop the thread."""
        self._frames.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (frame := self._frames.get()) is not None:
            if self._broken:
                continue
            try:
                _write_all(self._fd, frame)
            except OSError as exc:
                self._broken = True
                log.warning("writing a response failed (%s); dropping further output", exc)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


__all__ = ["MAX_LINE_BYTES", "FrameWriter", "Line", "LineSplitter", "Oversized", "read_lines"]
