"""The overhead clock's bookkeeping: a wait counts once even when a sub-agent's model call runs
inside the delegation's tool call, and a wait still in progress is not overhead."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from amplifier_agent.core.observe import ModelCallInfo, ToolCallInfo
from amplifier_agent.core.stream import StreamEvent, TextDelta
from amplifier_agent.server.request_watch import OverheadClock, RequestWatch


async def one_delta_after(seconds: float) -> AsyncIterator[StreamEvent]:
    await asyncio.sleep(seconds)
    yield TextDelta("x")


async def drain(stream: AsyncIterator[StreamEvent]) -> None:
    async for _ in stream:
        pass


async def test_a_sub_agents_call_inside_a_tool_call_is_counted_once() -> None:
    clock = OverheadClock(started=0.0)
    watch = RequestWatch(clock, None)
    with watch.tool_call(ToolCallInfo("delegate", "c1", known=True)):
        await drain(watch.model_call(ModelCallInfo("p", "m", "helper"), one_delta_after(0.05)))
        assert clock.waited_s == 0.0 and clock.waiting_since is not None
    after_tool = clock.waited_s
    assert after_tool >= 0.05 and clock.waiting_since is None
    await drain(watch.model_call(ModelCallInfo("p", "m"), one_delta_after(0.05)))
    # The root call adds its own wait; the sub-agent's was already inside the tool's.
    assert clock.waited_s >= after_tool + 0.05


async def test_a_wait_in_progress_is_not_overhead() -> None:
    clock = OverheadClock(started=time.monotonic())
    watch = RequestWatch(clock, None)
    reading = asyncio.create_task(
        drain(watch.model_call(ModelCallInfo("p", "m"), one_delta_after(0.4)))
    )
    await asyncio.sleep(0.2)
    assert clock.waiting_since is not None
    # Without the wait in progress, the 0.2 s asleep here would all be overhead.
    assert clock.overhead_s() < 0.2
    await reading
