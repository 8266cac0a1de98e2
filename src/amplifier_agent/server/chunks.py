"""Chat-completions response shapes (SPEC §8.6–8.8): SSE chunks, usage, the buffered body.

Every chunk carries the same `id`, `object`, `created` and `model`; the constant part is encoded
once per response so each delta costs one small `orjson.dumps`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from amplifier_agent.core.messages import ToolCall
from amplifier_agent.core.usage import Usage, format_decimal

DONE_FRAME = b"data: [DONE]\n\n"


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def usage_json(usage: Usage | None) -> dict[str, Any]:
    """OpenAI usage, `prompt_tokens_details.cached_tokens` always present (clients read it
    without a guard), plus the non-standard `cost_usd` string (omitted when unknown)."""
    if usage is None:
        return {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "prompt_tokens_details": {"cached_tokens": 0},
        }
    prompt, completion = usage.prompt_tokens, usage.output_tokens
    body: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
    }
    if usage.cost_usd is not None:
        body["cost_usd"] = format_decimal(usage.cost_usd)
    return body


def arguments_text(call: ToolCall) -> str:
    """A call's arguments as the JSON text OpenAI clients expect (`{}` when there are none)."""
    return orjson.dumps(call.arguments).decode() if call.arguments else "{}"


def tool_call_json(index: int, call: ToolCall, call_id: str) -> dict[str, Any]:
    arguments = arguments_text(call)
    return {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def client_call_ids(calls: Sequence[ToolCall]) -> list[str]:
    """The provider's tool-use ids, else `call_<24 hex>`; always unique within the response."""
    seen: set[str] = set()
    ids = []
    for call in calls:
        call_id = call.id if call.id and call.id not in seen else "call_" + secrets.token_hex(12)
        seen.add(call_id)
        ids.append(call_id)
    return ids


@dataclass
class ChunkWriter:
    """Encodes SSE frames for one response."""

    model: str
    id: str = field(default_factory=completion_id)
    created: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self) -> None:
        head = {"id": self.id, "object": "chat.completion.chunk", "created": self.created}
        head["model"] = self.model
        encoded = orjson.dumps(head)
        self._prefix = b"data: " + encoded[:-1] + b',"choices":[{"index":0,"delta":'

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        reason = b"null" if finish_reason is None else orjson.dumps(finish_reason)
        return self._prefix + orjson.dumps(delta) + b',"finish_reason":' + reason + b"}]}\n\n"

    def role(self) -> bytes:
        return self.delta({"role": "assistant", "content": ""})

    def terminal(
        self, finish_reason: str, usage: Usage | None, error: dict[str, str] | None = None
    ) -> bytes:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}],
            "usage": usage_json(usage),
        }
        if error is not None:
            body["error"] = error
        return b"data: " + orjson.dumps(body) + b"\n\n"


def completion_body(
    writer: ChunkWriter,
    *,
    content: str,
    reasoning: str,
    tool_calls: list[dict[str, Any]],
    usage: Usage | None,
) -> bytes:
    """The `stream:false` body: the same turn, buffered."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if tool_calls and not content else content,
    }
    if reasoning:
        message["reasoning_content"] = reasoning
    if tool_calls:
        message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in tool_calls]
    return orjson.dumps(
        {
            "id": writer.id,
            "object": "chat.completion",
            "created": writer.created,
            "model": writer.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if tool_calls else "stop",
                }
            ],
            "usage": usage_json(usage),
        }
    )
