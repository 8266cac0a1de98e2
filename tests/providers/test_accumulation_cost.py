"""Accumulating a call's reasoning and tool arguments costs O(1) per delta, for both wires.

The cost is counted, not timed: tracemalloc sums, per fed event, the bytes allocated on top of
what was live before it (its peak above the start). Appending to a list adds a constant per
delta; copying what came before adds the whole history every time, so going from 2,000 to 20,000
deltas multiplies the sum by ~10 when linear and by ~100 when quadratic.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import orjson
import pytest

from amplifier_agent.core.stream import ThinkingDone, ToolCallDone
from amplifier_agent.providers.anthropic_events import EventTranslator
from amplifier_agent.providers.chat_chunks import ChunkTranslator
from amplifier_agent.providers.upstream_errors import Upstream

UPSTREAM = Upstream("p", None, None)
SMALL, LARGE = 2_000, 20_000
Feed = Callable[[int], list[object]]


def transient_bytes(steps: list[Callable[[], object]]) -> int:
    """Σ over steps of (peak traced memory during the step - traced memory before it)."""
    total = 0
    tracemalloc.start()
    try:
        for step in steps:
            tracemalloc.reset_peak()
            before, _ = tracemalloc.get_traced_memory()
            step()
            total += tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return total


def anthropic_steps(deltas: int, kind: str) -> tuple[list[Callable[[], object]], EventTranslator]:
    translator = EventTranslator("m", UPSTREAM)
    if kind == "thinking":
        start = {"type": "thinking", "thinking": ""}
        delta = {"type": "thinking_delta", "thinking": "ab"}
    else:
        start = {"type": "tool_use", "id": "t", "name": "f", "input": {}}
        delta = {"type": "input_json_delta", "partial_json": " "}
    translator.feed(
        "content_block_start",
        orjson.dumps({"type": "content_block_start", "index": 0, "content_block": start}),
    )
    data = orjson.dumps({"type": "content_block_delta", "index": 0, "delta": delta})
    return [lambda: translator.feed("content_block_delta", data)] * deltas, translator


def openai_steps(deltas: int, kind: str) -> tuple[list[Callable[[], object]], ChunkTranslator]:
    translator = ChunkTranslator(UPSTREAM)
    if kind == "thinking":
        delta: dict[str, object] = {"reasoning_content": "ab"}
    else:
        delta = {"tool_calls": [{"index": 0, "function": {"arguments": " "}}]}
        opening = [{"index": 0, "id": "t", "function": {"name": "f", "arguments": "{}"}}]
        translator.feed({"choices": [{"index": 0, "delta": {"tool_calls": opening}}]})
    data = orjson.dumps({"model": "m", "choices": [{"index": 0, "delta": delta}]})
    return [lambda: translator.feed(orjson.loads(data))] * deltas, translator


def close(translator: EventTranslator | ChunkTranslator) -> list[object]:
    if isinstance(translator, EventTranslator):
        return list(
            translator.feed("content_block_stop", b'{"type":"content_block_stop","index":0}')
        )
    return list(translator.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "x"}]}))


@pytest.mark.parametrize("kind", ["thinking", "tool_arguments"])
@pytest.mark.parametrize("make", [anthropic_steps, openai_steps], ids=["anthropic", "openai"])
def test_twenty_thousand_deltas_cost_linear_work(
    make: Callable[[int, str], tuple[list[Callable[[], object]], object]], kind: str
) -> None:
    small_steps, _ = make(SMALL, kind)
    large_steps, translator = make(LARGE, kind)
    small, large = transient_bytes(small_steps), transient_bytes(large_steps)

    assert large < 20 * small, f"{SMALL} deltas: {small} B, {LARGE} deltas: {large} B"
    (done,) = close(translator)  # type: ignore[arg-type]
    if kind == "thinking":
        assert isinstance(done, ThinkingDone) and done.block.text == "ab" * LARGE
    else:
        assert isinstance(done, ToolCallDone)
        assert done.call.arguments == {} and done.call.raw_arguments is None
