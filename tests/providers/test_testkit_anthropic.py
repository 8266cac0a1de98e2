"""The fake Anthropic wire on its own: event order and shapes, as the real API sends them."""

from __future__ import annotations

import json
from typing import Any

from testkit import Block, Reply, anthropic_wire


def _decode(events: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    decoded = []
    for raw in events:
        text = raw.decode()
        assert text.endswith("\n\n"), "each element is exactly one SSE event"
        name_line, data_line = text.strip().split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        data = json.loads(data_line.removeprefix("data: "))
        assert data["type"] == name_line.removeprefix("event: ")
        decoded.append((data["type"], data))
    return decoded


def test_text_stream_has_the_real_event_sequence() -> None:
    reply = Reply(
        blocks=[Block(type="text", chunks=["Hel", "lo"])],
        usage={"input": 12, "output": 7, "cache_read": 3, "cache_write": 4},
    )
    events = _decode(anthropic_wire.stream_events(reply, "claude-x"))
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    message = events[0][1]["message"]
    assert message["model"] == "claude-x"
    assert message["usage"]["input_tokens"] == 12
    assert message["usage"]["cache_read_input_tokens"] == 3
    assert message["usage"]["cache_creation_input_tokens"] == 4
    assert [e[1]["delta"]["text"] for e in events[3:5]] == ["Hel", "lo"]
    assert events[6][1]["delta"]["stop_reason"] == "end_turn"
    assert events[6][1]["usage"]["output_tokens"] == 7


def test_thinking_block_streams_text_then_signature() -> None:
    reply = Reply(blocks=[Block(type="thinking", chunks=["a", "b"], signature="sig-1")])
    events = _decode(anthropic_wire.stream_events(reply, "m"))
    deltas = [d["delta"] for name, d in events if name == "content_block_delta"]
    assert deltas == [
        {"type": "thinking_delta", "thinking": "a"},
        {"type": "thinking_delta", "thinking": "b"},
        {"type": "signature_delta", "signature": "sig-1"},
    ]
    assert events[1][1]["content_block"]["type"] == "thinking"


def test_tool_input_is_split_into_partial_json_pieces() -> None:
    arguments = {"path": "/tmp/some/file.txt", "lines": [1, 2, 3]}
    reply = Reply(blocks=[Block(type="tool_call", id="toolu_1", name="read", arguments=arguments)])
    events = _decode(anthropic_wire.stream_events(reply, "m"))
    start = events[1][1]["content_block"]
    assert start == {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {}}
    pieces = [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta"]
    assert len([p for p in pieces if p]) > 1
    assert json.loads("".join(pieces)) == arguments
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_raw_string_arguments_are_sent_verbatim() -> None:
    reply = Reply(blocks=[Block(type="tool_call", id="t", name="f", arguments='{"a": 1,')])
    events = _decode(anthropic_wire.stream_events(reply, "m"))
    pieces = [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta"]
    assert "".join(pieces) == '{"a": 1,'


def test_json_body_is_a_complete_message() -> None:
    reply = Reply(
        blocks=[
            Block(type="thinking", text="t", signature="s"),
            Block(type="text", text="hi"),
            Block(type="tool_call", id="t1", name="f", arguments={"x": 1}),
        ],
        usage={"input": 1, "output": 2, "cache_read": 3, "cache_write": 4},
    )
    body = anthropic_wire.json_body(reply, "claude-y")
    assert body["type"] == "message" and body["model"] == "claude-y"
    assert body["content"] == [
        {"type": "thinking", "thinking": "t", "signature": "s"},
        {"type": "text", "text": "hi"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": 1}},
    ]
    assert body["stop_reason"] == "tool_use"
    assert body["usage"] == {
        "input_tokens": 1,
        "output_tokens": 2,
        "cache_read_input_tokens": 3,
        "cache_creation_input_tokens": 4,
    }


def test_error_bodies_carry_anthropic_error_types() -> None:
    expected = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
        500: "api_error",
        529: "overloaded_error",
    }
    for status, error_type in expected.items():
        body = anthropic_wire.error_body(status, "boom", None)
        assert body["type"] == "error"
        assert body["error"] == {"type": error_type, "message": "boom"}
    assert anthropic_wire.error_body(500, "x", "custom_error")["error"]["type"] == "custom_error"


def test_models_body_uses_rfc3339_and_cursor_ids() -> None:
    body = anthropic_wire.models_body(
        [
            {"id": "old", "created": 0},
            {"id": "new", "created": 1759104000, "display_name": "New"},
        ]
    )
    assert body["data"] == [
        {
            "type": "model",
            "id": "new",
            "display_name": "New",
            "created_at": "2025-09-29T00:00:00Z",
        },
        {"type": "model", "id": "old", "display_name": "old", "created_at": "1970-01-01T00:00:00Z"},
    ]
    assert (body["has_more"], body["first_id"], body["last_id"]) == (False, "new", "old")
