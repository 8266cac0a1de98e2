"""The Responses translator: display events and a turn report become output items and the
Responses SSE events, in order, with `sequence_number`s from 0, as the openai SDK types define."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from amplifier_agent.core.events import ResultDelta, ThinkingStreamed, ToolStarted
from amplifier_agent.core.messages import ToolCall
from amplifier_agent.core.usage import Usage
from amplifier_agent.engine import TurnReport
from amplifier_agent.server.responses_output import ResponseTranslator
from amplifier_agent.server.turn_runner import Failure

HEAD = {
    "id": "resp_" + "0" * 32,
    "object": "response",
    "created_at": 1,
    "model": "m",
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
}
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def report(calls: tuple[ToolCall, ...] = ()) -> TurnReport:
    usage = Usage(input_tokens=10, output_tokens=5, cache_read_tokens=90, cost_usd=Decimal("0.01"))
    return TurnReport("s", "turn-1", "", usage, 1, host_calls=calls)


def decode(stream: bytes) -> list[dict[str, Any]]:
    events = []
    for frame in stream.decode().split("\n\n"):
        if frame:
            name, data = frame.split("\n")
            event = json.loads(data[len("data: ") :])
            assert name == f"event: {event['type']}"
            EVENTS.validate_python(event)  # the SDK's own discriminated union accepts it
            events.append(event)
    return events


def run(events: list[object], turn: TurnReport | None, failure: Failure | None = None) -> bytes:
    translator = ResponseTranslator(dict(HEAD))
    frames = [translator.frame(e) for e in events]
    visible = b"".join(f for f in frames if f)
    return translator.opening() + visible + b"".join(translator.closing(turn, failure))


def test_thinking_then_text_then_calls_in_sdk_shapes_and_order() -> None:
    calls = (ToolCall("toolu_1", "f", {"a": 1}, host=True), ToolCall("toolu_2", "f", {}, host=True))
    stream = [
        ThinkingStreamed("pla"),
        ThinkingStreamed("n"),
        ToolStarted("x", "read_file", {}),
        ResultDelta("Hel"),
        ResultDelta("lo"),
    ]
    events = decode(run(stream, report(calls)))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        *[
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
        ]
        * 2,
        "response.completed",
    ]
    final = Response.model_validate(events[-1]["response"])
    assert [item.type for item in final.output] == [
        "reasoning",
        "message",
        "function_call",
        "function_call",
    ]
    assert final.output_text == "Hello"
    assert [json.loads(item.arguments) for item in final.output[2:]] == [{"a": 1}, {}]  # type: ignore[union-attr]
    assert final.usage is not None and final.usage.input_tokens == 100
    assert final.usage.input_tokens_details.cached_tokens == 90
    assert final.usage.model_extra == {"cost_usd": "0.01"}


def test_text_after_thinking_after_text_opens_new_items() -> None:
    stream = [ResultDelta("a"), ThinkingStreamed("t"), ResultDelta("b")]
    events = decode(run(stream, report()))
    output = events[-1]["response"]["output"]
    assert [item["type"] for item in output] == ["message", "reasoning", "message"]
    assert [e["output_index"] for e in events if e["type"] == "response.output_item.added"] == [
        0,
        1,
        2,
    ]


def test_failure_after_the_commit_is_response_failed() -> None:
    failure = Failure(429, "rate_limited", "slow down")
    events = decode(run([ResultDelta("partial")], None, failure))
    assert events[-1]["type"] == "response.failed"
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "rate_limit_exceeded"
    assert failed["error"]["message"] == "rate_limited: slow down"
    assert failed["output"][0]["content"][0]["text"] == "partial"
    assert failed["output"][0]["status"] == "incomplete"


def test_buffered_translation_encodes_nothing_and_gives_the_same_response() -> None:
    translator = ResponseTranslator(dict(HEAD), streaming=False)
    assert translator.frame(ResultDelta("Hi")) is None
    response = Response.model_validate(translator.finish(report()))
    assert response.status == "completed" and response.output_text == "Hi"
