"""The connection layer under the ASGI app: uvicorn's httptools protocol with read deadlines.

Why: uvicorn bounds only the idle time between requests. A client that sends part of a request
and goes silent (or drips it a byte at a time) would hold a connection, and for a body an app
task, forever. Both deadlines are totals, not idle gaps, so dripping does not extend them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 60.0
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReadTimeouts:
    """`header_s`: from the connection (or a later request's first byte) to the end of its
    headers; `body_s`: from the end of the headers (a pipelined request's: from its start) to
    the end of the body."""

    header_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_s: float = DEFAULT_BODY_TIMEOUT_S


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    """Closes a connection whose request headers or body do not arrive in time."""

    timeouts: ClassVar[ReadTimeouts] = ReadTimeouts()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.timeouts.header_s, "request headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # the first request is already timed from the connection
            self._arm(self.timeouts.header_s, "request headers")

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        self._time_a_started_body()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._time_a_started_body()  # a pipelined request may have started just now

    def _time_a_started_body(self) -> None:
        """Arm the body deadline when the newest request runs and its body is still coming
        (even if the app has already answered it: the connection is held either way).

        Only the newest request can have an unfinished body (the parser reads in order), and a
        queued one waits with reading paused, which is not the client's delay.
        """
        cycle = self.cycle
        if cycle is None or not cycle.more_body:
            return
        if any(queued is cycle for queued, _ in self.pipeline):
            return
        self._arm(self.timeouts.body_s, "the request body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire, what, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, what: str, seconds: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "an unknown client"
        log.warning("closed the connection from %s: %s took over %g s", client, what, seconds)
        self.transport.close()


def protocol_with(timeouts: ReadTimeouts) -> type[DeadlineHttpToolsProtocol]:
    """The protocol class bound to `timeouts` (uvicorn builds protocols with fixed arguments)."""
    return type("DeadlineHttpToolsProtocol", (DeadlineHttpToolsProtocol,), {"timeouts": timeouts})
