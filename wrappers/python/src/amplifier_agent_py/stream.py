"""One turn's event stream, shared by both lifecycles: the queue a turn emits into, the routing
of notifications to `display.on_event`, and the supervision that ticks `activity` every 2 s and
fires the opt-in timeout."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from amplifier_agent_py.constants import ACTIVITY_INTERVAL_MS
from amplifier_agent_py.outcome import Event

_log = logging.getLogger(__name__)
_END: Event = {"type": "__end__"}
T = TypeVar("T")

OnEvent = Callable[[Event], Any]


class TurnStream:
    """The events of one turn, in order; ends after the closing `result` or `error`."""

    def __init__(self, on_event: OnEvent | None) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._on_event = on_event
        self._pending: list[asyncio.Future[Any]] = []
        self.saw_final = False

    def emit(self, event: Event) -> None:
        self._queue.put_nowait(event)

    def end(self) -> None:
        self._queue.put_nowait(_END)

    def deliver(self, event: Event) -> None:
        """Notifications go to `display.on_event` when set, else into the stream: never both."""
        if event["method"] == "result/final":
            self.saw_final = True
        if self._on_event is None:
            self.emit(event)
            return
        try:
            returned = self._on_event(event)
        except Exception:  # a host callback must not break the turn
            _log.exception("display.on_event raised")
            return
        if inspect.isawaitable(returned):
            self._pending.append(asyncio.ensure_future(_awaited(returned)))

    async def settle(self) -> None:
        """Wait for the async `on_event` callbacks started so far."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)

    async def events(
        self, task: asyncio.Task[None], abandon: Callable[[], Awaitable[None]]
    ) -> AsyncIterator[Event]:
        try:
            while (event := await self._queue.get()) is not _END:
                yield event
        finally:
            if not task.done():  # the consumer stopped listening: do not leave the turn running
                await abandon()


async def supervise(
    waiter: asyncio.Future[T],
    timeout_ms: int | None,
    emit: Callable[[Event], None],
    on_timeout: Callable[[], None],
) -> T:
    """Wait for `waiter`, emitting `activity` every 2 s and calling `on_timeout` once the
    timeout passes (the waiter is then expected to end soon)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    interval = ACTIVITY_INTERVAL_MS / 1000
    deadline = None if timeout_ms is None else started + timeout_ms / 1000
    next_tick = started + interval
    while True:
        wake = next_tick if deadline is None else min(next_tick, deadline)
        await asyncio.wait({waiter}, timeout=max(0.0, wake - loop.time()))
        if waiter.done():
            return waiter.result()
        now = loop.time()
        if deadline is not None and now >= deadline:
            deadline = None
            on_timeout()
        if now >= next_tick:
            emit({"type": "activity", "elapsed_ms": int((now - started) * 1000)})
            next_tick += interval


async def _awaited(value: Awaitable[Any]) -> None:
    try:
        await value
    except Exception:
        _log.exception("display.on_event raised")
