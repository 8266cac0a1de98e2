"""Anthropic Messages stream events, decoded once, as provider-neutral stream events.

No SDK here: the adapter hands over each server-sent event's name and data and gets events back.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from amplifier_agent.core.stream import StreamEvent, TextDelta
from amplifier_agent.core.usage import Usage
from amplifier_agent.providers.accumulator import CallAccumulator
from amplifier_agent.providers.upstream_errors import Upstream, malformed, stream_error_event


class EventTranslator:
    """Folds decoded Messages stream events into neutral events plus the call's final facts."""

    def __init__(self, model: str, upstream: Upstream) -> None:
        self.acc = CallAccumulator(model)
        self.upstream = upstream
        self.finished = False
        self._kinds: dict[int, str] = {}  # open content blocks by index

    def feed(self, name: str, data: bytes) -> list[StreamEvent]:
        """One SSE event; pings and nameless events carry nothing."""
        if name == "error":
            raise stream_error_event(_error_of(data), self.upstream)
        if not name or name == "ping" or not data:
            return []
        event = orjson.loads(data)
        if not isinstance(event, dict):
            raise malformed(self.upstream, f"a {name} event is not a JSON object")
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(event.get("index"), event.get("delta") or {})
        if kind == "content_block_start":
            self._start(event.get("index"), event.get("content_block") or {})
        elif kind == "content_block_stop":
            return self._stop(event.get("index"))
        elif kind == "message_start":
            self._message_start(event.get("message") or {})
        elif kind == "message_delta":
            self._message_delta(event)
        elif kind == "message_stop":
            self.finished = True
        return []

    def _start(self, index: Any, block: dict[str, Any]) -> None:
        kind = block.get("type") or "text"
        self._kinds[index] = kind
        if kind == "thinking":
            self.acc.open_thinking()
        elif kind == "tool_use":
            pending = self.acc.call(index)
            pending.call_id, pending.name = block.get("id") or "", block.get("name") or ""
            # Some compatible servers send the whole input at start instead of as deltas.
            if block.get("input"):
                pending.parts.append(orjson.dumps(block["input"]).decode())

    def _delta(self, index: Any, delta: dict[str, Any]) -> list[StreamEvent]:
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            return [TextDelta(text)] if text else []
        if kind == "thinking_delta":
            thought = self.acc.think(delta.get("thinking") or "")
            return [thought] if thought is not None else []
        if kind == "signature_delta":
            self.acc.sign(delta.get("signature") or "")
        elif kind == "input_json_delta" and index in self.acc.calls:
            self.acc.calls[index].parts.append(delta.get("partial_json") or "")
        return []

    def _stop(self, index: Any) -> list[StreamEvent]:
        kind = self._kinds.pop(index, None)
        done: StreamEvent | None = None
        if kind == "thinking":
            done = self.acc.close_thinking()
        elif kind == "tool_use":
            done = self.acc.close_call(index)
        return [done] if done is not None else []

    def _message_start(self, message: dict[str, Any]) -> None:
        self.acc.model = message.get("model") or self.acc.model
        u = message.get("usage") or {}
        self.acc.usage = Usage(
            input_tokens=u.get("input_tokens") or 0,
            output_tokens=u.get("output_tokens") or 0,
            cache_read_tokens=u.get("cache_read_input_tokens") or 0,
            cache_write_tokens=u.get("cache_creation_input_tokens") or 0,
        )

    def _message_delta(self, event: dict[str, Any]) -> None:
        stop_reason = (event.get("delta") or {}).get("stop_reason")
        if stop_reason:
            self.acc.stop_reason = stop_reason
        u, usage = event.get("usage") or {}, self.acc.usage
        # Counts here are cumulative and final; the start event's output count is provisional.
        self.acc.usage = replace(
            usage,
            output_tokens=_or(u.get("output_tokens"), usage.output_tokens),
            input_tokens=_or(u.get("input_tokens"), usage.input_tokens),
            cache_read_tokens=_or(u.get("cache_read_input_tokens"), usage.cache_read_tokens),
            cache_write_tokens=_or(u.get("cache_creation_input_tokens"), usage.cache_write_tokens),
        )


def _or(value: int | None, fallback: int) -> int:
    return fallback if value is None else value


def _error_of(data: bytes) -> Any:
    """An `error` event's error object; its raw text when it is not the documented JSON."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")
    return body.get("error", body) if isinstance(body, dict) else body
