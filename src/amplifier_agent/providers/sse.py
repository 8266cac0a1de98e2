"""Server-sent events read straight off an HTTP response, for both provider wires.

The SDKs build a typed object per streamed event; a model stream only needs each event's name and
its data, decoded once by the adapter. The parsing follows the SSE specification (WHATWG HTML
§9.2.6): lines end in CRLF, LF or CR; `:` starts a comment; a field's value loses one leading
space; `data` lines accumulate, joined by LF; a blank line dispatches the event; an event with no
`data` line is dropped, as is an unterminated one at the end of the stream. `id` and `retry` mean
nothing to a one-shot model call and are ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import NamedTuple

import httpx2

from amplifier_agent.providers.upstream_errors import TRANSPORT_FAILURES

_BOM = b"\xef\xbb\xbf"


class SseEvent(NamedTuple):
    """One dispatched event: its `event` field ("" when it had none) and its data bytes."""

    event: str
    data: bytes


class SseDecoder:
    """Incremental SSE parser: feed it the body in any slicing, get whole events back."""

    __slots__ = ("_data", "_event", "_partial", "_skip_lf", "_started")

    def __init__(self) -> None:
        self._partial: list[bytes] = []  # an unterminated line, kept as pieces until it ends
        self._skip_lf = False  # the last chunk ended in CR: a leading LF completes that CRLF
        self._started = False
        self._event = ""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events that `chunk` completes, in order."""
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        if b"\n" not in chunk and b"\r" not in chunk:
            if chunk:
                self._partial.append(chunk)
            return []
        if self._partial:
            self._partial.append(chunk)
            chunk = b"".join(self._partial)
            self._partial = []
        if not self._started:
            self._started = True
            chunk = chunk.removeprefix(_BOM)
        lines = chunk.splitlines(keepends=True)
        last = lines[-1]
        if last[-1:] not in (b"\n", b"\r"):
            self._partial.append(lines.pop())
        elif last[-1:] == b"\r":
            self._skip_lf = True
        events: list[SseEvent] = []
        for line in lines:
            event = self._line(line.rstrip(b"\r\n"))
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: bytes) -> SseEvent | None:
        if line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value[:1] == b" " else value)
            return None
        if not line:
            return self._dispatch()
        if line[:1] == b":":
            return None
        name, _, value = line.partition(b":")
        value = value[1:] if value[:1] == b" " else value
        if name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"data":  # a bare `data` line: the field with an empty value
            self._data.append(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseEvent(event, data[0] if len(data) == 1 else b"\n".join(data))


async def sse_events(response: httpx2.Response) -> AsyncGenerator[SseEvent, None]:
    """Every event of `response`'s body; transport failures propagate as httpx2 raises them."""
    decoder = SseDecoder()
    async for chunk in response.aiter_bytes():
        for event in decoder.feed(chunk):
            yield event


#: After a stream's terminal event, how long the rest of the body may take to arrive. Reading it
#: lets an HTTP/1.1 connection go back to the pool instead of being closed.
DRAIN_S = 0.1


async def drain(events: AsyncIterator[SseEvent]) -> None:
    """Read and drop what is left of a finished stream, for at most `DRAIN_S` seconds."""
    try:
        async with asyncio.timeout(DRAIN_S):
            async for _ in events:
                pass
    except (TimeoutError, *TRANSPORT_FAILURES):
        pass  # the call already has everything it needs; only connection reuse is lost
