"""`serve stdio`: one `Dispatcher` answering JSON-RPC 2.0 requests read as NDJSON lines,
concurrently.

Every request runs as its own task, started in arrival order, so a long `turn/submit` never holds
up another session's turn, a `session/create` or a `turn/cancel`. Responses and notifications go
out through one `send` callable. At the end of input, on `stop` or after `agent/shutdown`, requests
in flight get `drain_s` seconds to finish; then running turns are cancelled (recorded as
`shutdown`) and their requests answered before `serve` returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from amplifier_agent.wire.protocol import (
    error_response,
    invalid_request,
    parse_error,
)
from amplifier_agent.wire.stdio_io import Line, Oversized

if TYPE_CHECKING:
    from amplifier_agent.wire.dispatch import Dispatcher, Notify

log = logging.getLogger(__name__)

#: Builds the dispatcher at the first request, so the process answers its first line without having
#: paid for the engine's imports at start-up.
DispatcherFactory = Callable[["Notify"], "Dispatcher"]
Send = Callable[[Mapping[str, Any]], None]


class StdioServer:
    def __init__(self, make_dispatcher: DispatcherFactory, send: Send, *, drain_s: float) -> None:
        self._make_dispatcher = make_dispatcher
        self._send = send
        self._drain_s = drain_s
        self._dispatcher: Dispatcher | None = None
        self._requests: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._hurry = asyncio.Event()

    def stop(self) -> None:
        """Stop reading (`agent/shutdown` calls this); `serve` then drains and returns."""
        self._stop.set()

    def signalled(self) -> None:
        """A termination signal: the first one stops reading, as `stop()`; another one cuts the
        drain short, so turns still running are cancelled and recorded at once, the way an
        operator pressing Ctrl-C twice expects."""
        if self._stop.is_set():
            self._hurry.set()
        elif self._requests:
            log.warning(
                "stopping: %d request(s) in flight get up to %g s to finish; "
                "a second signal cancels them now",
                len(self._requests),
                self._drain_s,
            )
        self._stop.set()

    async def serve(self, lines: AsyncIterable[Line]) -> None:
        """Answer every line until the input ends or `stop()`, then drain and shut down."""
        reading = asyncio.ensure_future(self._read(lines))
        stopping = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait((reading, stopping), return_when=asyncio.FIRST_COMPLETED)
        for waiter in (reading, stopping):
            waiter.cancel()
        await asyncio.wait((reading, stopping))
        await self._drain()

    async def _read(self, lines: AsyncIterable[Line]) -> None:
        async for line in lines:
            message = self._decode(line)
            if message is not None:
                task = asyncio.ensure_future(self._answer(message))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)

    def _decode(self, line: Line) -> Any | None:
        """The JSON value of a line; a bad line is answered here (id null) and gives None."""
        if isinstance(line, Oversized):
            message = f"a line longer than {line.cap} bytes was discarded"
            self._send(error_response(None, invalid_request(message)))
            return None
        if not line.strip():
            return None
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            self._send(error_response(None, parse_error(f"the line is not JSON: {exc}")))
            return None

    async def _answer(self, message: Any) -> None:
        response = await self._dispatcher_for().handle(message)
        if response is None:
            return
        self._send(response)
        if _is_shutdown(message) and "result" in response:
            self.stop()

    def _dispatcher_for(self) -> Dispatcher:
        if self._dispatcher is None:
            self._dispatcher = self._make_dispatcher(self._send)
        return self._dispatcher

    async def _drain(self) -> None:
        if self._requests and not self._hurry.is_set():
            finished = asyncio.ensure_future(asyncio.wait(tuple(self._requests)))
            hurried = asyncio.ensure_future(self._hurry.wait())
            waiters = (finished, hurried)
            await asyncio.wait(waiters, timeout=self._drain_s, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
        if self._dispatcher is not None:
            await self._dispatcher.close()
        if self._requests:
            await asyncio.wait(tuple(self._requests))


def _is_shutdown(message: Any) -> bool:
    return isinstance(message, Mapping) and message.get("method") == "agent/shutdown"


__all__ = ["DispatcherFactory", "Send", "StdioServer"]
