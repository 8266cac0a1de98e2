"""The Anthropic Messages wire: SSE events, the `message` body, error bodies and the model list.

Shapes follow the public Messages API: `message_start` carries input and cache usage,
`message_delta` the stop reason and output tokens; tool input streams as `input_json_delta` pieces.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from testkit.script import Block, Reply

#: Anthropic's error `type` per HTTP status.
_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

#: How many pieces a tool call's input JSON is split into when streamed.
_INPUT_PIECES = 3


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _message_id() -> str:
    return f"msg_fake_{uuid.uuid4().hex[:24]}"


def input_text(block: Block) -> str:
    """A tool call's input as the JSON text the wire carries (raw strings verbatim)."""
    if isinstance(block.arguments, str):
        return block.arguments
    return json.dumps(block.arguments, separators=(",", ":"))


def split_pieces(text: str, pieces: int = _INPUT_PIECES) -> list[str]:
    """`text` cut into up to `pieces` consecutive non-empty parts (none when `text` is empty)."""
    if not text:
        return []
    size = -(-len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _start_usage(reply: Reply) -> dict[str, Any]:
    # The real API reports a provisional output count at start; the final one is in message_delta.
    return {
        "input_tokens": reply.usage_of("input"),
        "cache_creation_input_tokens": reply.usage_of("cache_write"),
        "cache_read_input_tokens": reply.usage_of("cache_read"),
        "output_tokens": 1,
    }


def _final_usage(reply: Reply) -> dict[str, Any]:
    return {
        "input_tokens": reply.usage_of("input"),
        "cache_creation_input_tokens": reply.usage_of("cache_write"),
        "cache_read_input_tokens": reply.usage_of("cache_read"),
        "output_tokens": reply.usage_of("output"),
    }


def _message_start(reply: Reply, model: str) -> bytes:
    message = {
        "id": _message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _start_usage(reply),
    }
    return _sse("message_start", {"type": "message_start", "message": message})


def _start_block(block: Block) -> dict[str, Any]:
    if block.type == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    if block.type == "tool_call":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
    return {"type": "text", "text": ""}


def _block_deltas(block: Block) -> list[dict[str, Any]]:
    if block.type == "thinking":
        deltas = [{"type": "thinking_delta", "thinking": t} for t in block.deltas() if t]
        if block.signature:
            deltas.append({"type": "signature_delta", "signature": block.signature})
        return deltas
    if block.type == "tool_call":
        # The real API opens every tool input with an empty partial.
        pieces = ["", *split_pieces(input_text(block))]
        return [{"type": "input_json_delta", "partial_json": p} for p in pieces]
    return [{"type": "text_delta", "text": t} for t in block.deltas() if t]


def _block_events(index: int, block: Block) -> list[bytes]:
    start = {"type": "content_block_start", "index": index, "content_block": _start_block(block)}
    events = [_sse("content_block_start", start)]
    for delta in _block_deltas(block):
        body = {"type": "content_block_delta", "index": index, "delta": delta}
        events.append(_sse("content_block_delta", body))
    events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def stream_events(reply: Reply, model: str) -> list[bytes]:
    """The complete SSE stream for `reply`, one element per event."""
    events = [_message_start(reply, model)]
    ping = _sse("ping", {"type": "ping"})
    for index, block in enumerate(reply.blocks):
        block_events = _block_events(index, block)
        if index == 0:
            # As the real API does: a keep-alive right after the first block opens.
            block_events.insert(1, ping)
        events.extend(block_events)
    if not reply.blocks:
        events.append(ping)
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": reply.stop(), "stop_sequence": None},
        "usage": {"output_tokens": reply.usage_of("output")},
    }
    events.append(_sse("message_delta", delta))
    events.append(_sse("message_stop", {"type": "message_stop"}))
    return events


def _content_block(block: Block) -> dict[str, Any]:
    if block.type == "thinking":
        return {"type": "thinking", "thinking": block.text, "signature": block.signature}
    if block.type == "tool_call":
        arguments: Any = block.arguments
        if isinstance(arguments, str):
            # A malformed input is sent as it is: that is the fault being scripted.
            with contextlib.suppress(json.JSONDecodeError):
                arguments = json.loads(arguments)
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": arguments}
    return {"type": "text", "text": "".join(block.deltas())}


def json_body(reply: Reply, model: str) -> dict[str, Any]:
    """The non-streamed `message` object."""
    return {
        "id": _message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_content_block(b) for b in reply.blocks],
        "stop_reason": reply.stop(),
        "stop_sequence": None,
        "usage": _final_usage(reply),
    }


def error_type_for(status: int) -> str:
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(status: int, message: str, error_type: str | None) -> dict[str, Any]:
    """`{"type": "error", "error": {"type", "message"}}` with Anthropic's type for `status`."""
    return {
        "type": "error",
        "error": {"type": error_type or error_type_for(status), "message": message},
        "request_id": f"req_fake_{uuid.uuid4().hex[:24]}",
    }


def _rfc3339(created: int) -> str:
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def models_body(models: list[dict[str, Any]]) -> dict[str, Any]:
    """One page holding every model, newest first as the real API lists them."""
    ordered = sorted(models, key=lambda m: int(m.get("created", 0)), reverse=True)
    data = [
        {
            "type": "model",
            "id": m["id"],
            "display_name": m.get("display_name") or m["id"],
            "created_at": _rfc3339(int(m.get("created", 0))),
        }
        for m in ordered
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
