"""The OpenAI Chat Completions wire: SSE chunks, the `chat.completion` body, errors and models.

Reasoning streams as `delta.reasoning_content`, as DeepSeek, vLLM and Ollama-style servers send it.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from testkit.script import Block, Reply

#: Neutral stop reasons (`Reply.stop()`) spelled the Chat Completions way.
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
}

#: (type, code) of the error body per HTTP status, as OpenAI spells them.
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}

#: How many pieces a tool call's arguments JSON is split into when streamed.
_ARGUMENT_PIECES = 3


def finish_reason(reply: Reply) -> str:
    stop = reply.stop()
    return _FINISH_REASONS.get(stop, stop)


def arguments_text(block: Block) -> str:
    """A tool call's arguments as the JSON string the wire carries (raw strings verbatim)."""
    if isinstance(block.arguments, str):
        return block.arguments
    return json.dumps(block.arguments, separators=(",", ":"))


def usage_body(reply: Reply) -> dict[str, Any]:
    """`prompt_tokens` counts every input token; cached reads are a subset of it."""
    cache_read = reply.usage_of("cache_read")
    prompt = reply.usage_of("input") + cache_read + reply.usage_of("cache_write")
    completion = reply.usage_of("output")
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


# -- streaming -----------------------------------------------------------------------------


def _split(text: str, pieces: int) -> list[str]:
    if len(text) <= 1:
        return [text]
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _tool_call_deltas(block: Block, index: int) -> list[dict[str, Any]]:
    opening = {
        "index": index,
        "id": block.id,
        "type": "function",
        "function": {"name": block.name, "arguments": ""},
    }
    rest = [
        {"index": index, "function": {"arguments": piece}}
        for piece in _split(arguments_text(block), _ARGUMENT_PIECES)
    ]
    return [opening, *rest]


def _deltas(reply: Reply) -> list[dict[str, Any]]:
    """The `delta` objects of every content chunk, in block order."""
    deltas: list[dict[str, Any]] = []
    tool_index = 0
    for block in reply.blocks:
        if block.type == "text":
            deltas += [{"content": text} for text in block.deltas() if text]
        elif block.type == "thinking":
            deltas += [{"reasoning_content": text} for text in block.deltas() if text]
        else:
            deltas += [{"tool_calls": [d]} for d in _tool_call_deltas(block, tool_index)]
            tool_index += 1
    return deltas


def _sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


def stream_events(reply: Reply, model: str) -> list[bytes]:
    """Role chunk, content deltas, the finish chunk, the usage chunk, then `[DONE]`."""
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse({**head, "choices": [choice]})

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk(delta) for delta in _deltas(reply)]
    events.append(chunk({}, finish_reason(reply)))
    events.append(_sse({**head, "choices": [], "usage": usage_body(reply)}))
    events.append(_sse("[DONE]"))
    return events


# -- whole bodies ----------------------------------------------------------------------------


def _joined(reply: Reply, block_type: str) -> str:
    return "".join("".join(b.deltas()) for b in reply.blocks if b.type == block_type)


def _message(reply: Reply) -> dict[str, Any]:
    text = _joined(reply, "text")
    reasoning = _joined(reply, "thinking")
    calls = [
        {
            "id": b.id,
            "type": "function",
            "function": {"name": b.name, "arguments": arguments_text(b)},
        }
        for b in reply.blocks
        if b.type == "tool_call"
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = calls
    return message


def json_body(reply: Reply, model: str) -> dict[str, Any]:
    """The non-streamed `chat.completion` object."""
    choice = {
        "index": 0,
        "message": _message(reply),
        "logprobs": None,
        "finish_reason": finish_reason(reply),
    }
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": usage_body(reply),
    }


def error_body(status: int, message: str, error_type: str | None) -> dict[str, Any]:
    default_type, code = _ERROR_KINDS.get(status, ("server_error", None))
    return {
        "error": {
            "message": message,
            "type": error_type or default_type,
            "param": None,
            "code": code,
        }
    }


def models_body(models: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": m["id"],
                "object": "model",
                "created": int(m.get("created", 0)),
                "owned_by": str(m.get("owned_by", "openai")),
            }
            for m in models
        ],
    }
