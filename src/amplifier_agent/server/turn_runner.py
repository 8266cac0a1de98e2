"""Runs one engine turn in a task and hands its display events to the response writer in order,
with a timeout so the writer can send keepalives while the model is silent."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any

from amplifier_agent.core.errors import AmplifierError, ProviderError
from amplifier_agent.core.events import DisplayEvent
from amplifier_agent.engine import EngineService, TurnControl, TurnReport, TurnRequest
from amplifier_agent.server.errors import HttpError

log = logging.getLogger(__name__)

#: What `next_event` yields once the turn has ended.
TURN_OVER = object()

_UPSTREAM_STATUS = {
    "upstream_auth_error": 502,
    "upstream_unavailable": 502,
    "upstream_error": 502,
    "rate_limited": 429,
    "upstream_timeout": 504,
}
#: `Retry-After` seconds for a 429 whose upstream named no wait. The SDK has already retried
#: with backoff by then, so an immediate retry would most likely be limited again.
DEFAULT_RETRY_AFTER_S = 5


class TurnRunner:
    def __init__(self, engine: EngineService, turn: TurnRequest) -> None:
        self.control = TurnControl()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.task: asyncio.Task[TurnReport] = asyncio.create_task(
            engine.chat_turn(turn, self._queue.put_nowait, self.control)
        )
        self.task.add_done_callback(lambda _: self._queue.put_nowait(TURN_OVER))

    async def next_event(self, timeout: float | None) -> DisplayEvent | object | None:
        """The next event, `TURN_OVER`, or None when `timeout` seconds passed in silence."""
        if not self._queue.empty():
            # Deltas usually arrive in bursts; a queued one needs no timer and no extra task.
            item: DisplayEvent | object = self._queue.get_nowait()
            return item
        try:
            # `timeout()` rather than `wait_for()`: no extra task per event on Python 3.11.
            async with asyncio.timeout(timeout):
                item = await self._queue.get()
            return item
        except TimeoutError:
            return None

    def cancel(self, status: str) -> None:
        self.control.cancel_status = status  # type: ignore[assignment]
        self.task.cancel()

    @property
    def cancelled(self) -> bool:
        return self.task.cancelled()

    def report(self) -> TurnReport | None:
        """The ended turn's report; None when it was cancelled or raised."""
        if self.task.cancelled() or self.task.exception() is not None:
            return None
        return self.task.result()

    def failure(self) -> Failure | None:
        """How the turn failed, or None when it produced a report without an error."""
        if self.task.cancelled():
            if self.control.cancel_status == "shutdown":
                return Failure(503, "server_shutting_down", "the server is shutting down")
            return None
        error = self.task.exception()
        if error is None:
            report_error = self.task.result().error
            return None if report_error is None else failure_for(report_error)
        if isinstance(error, HttpError):
            return Failure(error.status, error.code, error.message, error.headers, error.param)
        if isinstance(error, AmplifierError):
            return failure_for(error)
        # An engine bug: after the commit it must still end the stream in-band, so it becomes a
        # failure here instead of escaping into the response writer.
        log.error("turn failed unexpectedly", exc_info=error)
        return Failure(500, "internal", "internal server error")


@dataclass(frozen=True, slots=True)
class Failure:
    status: int
    code: str
    message: str
    headers: dict[str, str] | None = None
    param: str | None = None

    def in_band_code(self) -> str:
        allowed = (*_UPSTREAM_STATUS, "server_shutting_down", "internal")
        return self.code if self.code in allowed else "internal"

    def as_http_error(self) -> HttpError:
        return HttpError(
            self.status, self.code, self.message, param=self.param, headers=self.headers
        )


def failure_for(error: AmplifierError) -> Failure:
    if isinstance(error, ProviderError):
        headers = None
        if error.upstream == "rate_limited":
            headers = {"retry-after": str(_retry_after(error.retry_after))}
        return Failure(_UPSTREAM_STATUS[error.upstream], error.upstream, error.detail, headers)
    if error.code == "session_busy":
        return Failure(409, "session_busy", error.message, {"retry-after": "1"})
    if error.code in ("unknown_model", "ambiguous_model"):
        return Failure(400, error.code, error.message, param="model")
    if error.code in _SERVER_SIDE_CODES:
        # These messages describe the server machine (paths, exception text): log, don't send.
        log.error("turn failed: %s", error)
        return Failure(500, "internal", f"{error.code}: the turn failed on the server; see its log")
    return Failure(500, "internal", f"{error.code}: {error.message}")


def _retry_after(upstream_seconds: float | None) -> int:
    """Whole seconds, never 0: `Retry-After: 0` invites the client to hammer the upstream."""
    if upstream_seconds is None:
        return DEFAULT_RETRY_AFTER_S
    return max(1, math.ceil(upstream_seconds))


#: Failures inside the server itself, as opposed to the turn's own limits (`runtime`).
_SERVER_SIDE_CODES = frozenset({"internal", "stale_session", "storage_error", "bundle_load_failed"})
