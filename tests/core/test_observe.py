"""The observer seam: no observer costs nothing, a chain passes every event through each observer
in order and tells each of them the tool call's outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from amplifier_agent.core.observe import (
    NO_OBSERVER,
    ModelCallInfo,
    ToolCallInfo,
    ToolOutcome,
    chain,
)
from amplifier_agent.core.stream import StreamEvent, TextDelta

INFO = ModelCallInfo("p", "m")


@dataclass
class Recorder:
    name: str
    log: list[str]
    outcomes: list[bool] = field(default_factory=list)

    async def model_call(
        self, info: ModelCallInfo, events: AsyncIterator[StreamEvent]
    ) -> AsyncIterator[StreamEvent]:
        async for event in events:
            assert isinstance(event, TextDelta)
            self.log.append(f"{self.name}:{event.text}")
            yield event

    @contextmanager
    def tool_call(self, info: ToolCallInfo) -> Iterator[ToolOutcome]:
        outcome = ToolOutcome()
        yield outcome
        self.outcomes.append(outcome.is_error)


async def texts(*items: str) -> AsyncIterator[StreamEvent]:
    for item in items:
        yield TextDelta(item)


async def test_no_observer_returns_the_stream_itself() -> None:
    stream = texts("a")
    assert NO_OBSERVER.model_call(INFO, stream) is stream
    assert chain([None, NO_OBSERVER]) is NO_OBSERVER


async def test_a_chain_passes_events_through_every_observer_and_shares_the_outcome() -> None:
    log: list[str] = []
    first, second = Recorder("1", log), Recorder("2", log)
    observer = chain([first, None, second])
    seen = [e async for e in observer.model_call(INFO, texts("a", "b"))]
    assert seen == [TextDelta("a"), TextDelta("b")]
    assert log == ["1:a", "2:a", "1:b", "2:b"]
    with observer.tool_call(ToolCallInfo("glob", "c1", known=True)) as outcome:
        outcome.is_error = True
    assert first.outcomes == [True] and second.outcomes == [True]
