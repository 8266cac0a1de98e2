"""One chat request's clock and turn observer: how long it waited on the upstream and on built-in
tools (so the rest is our own overhead, sent as `x-amplifier-overhead-ms`), and the metrics its
model and tool calls add."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from amplifier_agent.core.errors import ProviderError
from amplifier_agent.core.observe import ModelCallInfo, ToolCallInfo, ToolOutcome
from amplifier_agent.core.stream import CallDone, StreamEvent, TextDelta
from amplifier_agent.server.metrics import OTHER, ModelLabels, ServerMetrics

OVERHEAD_HEADER = b"x-amplifier-overhead-ms"


@dataclass(slots=True)
class OverheadClock:
    """`started` is the request's arrival (`time.monotonic()`); `waited_s` is the time the turn
    spent awaiting the upstream's next event or a built-in tool, and `waiting_since` is set while
    it does so now (a stream may commit while the upstream is silent). `nesting` counts the tool
    calls in progress: a sub-agent's calls run inside its delegation call, whose time counts."""

    started: float
    waited_s: float = 0.0
    waiting_since: float | None = None
    first_token_at: float | None = None
    nesting: int = 0

    def wait_begins(self) -> None:
        if self.nesting == 0:
            self.waiting_since = time.monotonic()

    def wait_ends(self) -> float:
        """Now; the wait that began at the outermost level is added to `waited_s`."""
        now = time.monotonic()
        since = self.waiting_since
        if self.nesting == 0 and since is not None:
            self.waited_s += now - since
            self.waiting_since = None
        return now

    def overhead_s(self) -> float:
        now = time.monotonic()
        waiting = now - self.waiting_since if self.waiting_since is not None else 0.0
        return max(0.0, now - self.started - self.waited_s - waiting)

    def header(self) -> tuple[bytes, bytes]:
        return OVERHEAD_HEADER, f"{self.overhead_s() * 1000:.3f}".encode()


@dataclass(slots=True)
class RequestWatch:
    """The `TurnObserver` of one chat request (sub-agents' calls included)."""

    clock: OverheadClock
    metrics: ServerMetrics | None

    async def model_call(
        self, info: ModelCallInfo, events: AsyncIterator[StreamEvent]
    ) -> AsyncIterator[StreamEvent]:
        clock = self.clock
        upstream = aiter(events)
        while True:
            clock.wait_begins()
            try:
                event = await anext(upstream)
            except StopAsyncIteration:
                clock.wait_ends()
                return
            except ProviderError as error:
                clock.wait_ends()
                if self.metrics is not None:
                    self.metrics.upstream_error(info.provider_id, error.upstream)
                raise
            except BaseException:
                clock.wait_ends()
                raise
            arrived = clock.wait_ends()
            if isinstance(event, TextDelta):
                self._first_token(info, arrived)
            elif isinstance(event, CallDone) and self.metrics is not None:
                self.metrics.add_usage(ModelLabels(info.provider_id, info.model), event.usage)
            yield event

    def _first_token(self, info: ModelCallInfo, arrived: float) -> None:
        clock = self.clock
        if clock.first_token_at is not None or info.agent_name is not None:
            return
        clock.first_token_at = arrived
        if self.metrics is not None:
            self.metrics.first_token(
                ModelLabels(info.provider_id, info.model), arrived - clock.started
            )

    @contextmanager
    def tool_call(self, info: ToolCallInfo) -> Iterator[ToolOutcome]:
        outcome = ToolOutcome()
        clock = self.clock
        clock.wait_begins()
        clock.nesting += 1
        try:
            yield outcome
        finally:
            clock.nesting -= 1
            clock.wait_ends()
        if self.metrics is not None:
            tool = info.name if info.known else OTHER
            self.metrics.tool_called(tool, outcome.is_error)


__all__ = ["OVERHEAD_HEADER", "OverheadClock", "RequestWatch"]
