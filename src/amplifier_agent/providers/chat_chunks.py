"""Decoded `chat.completion.chunk` objects as provider-neutral stream events.

No SDK here: the adapter hands over each event's JSON, decoded once, and gets events back.
"""

from __future__ import annotations

from typing import Any

from amplifier_agent.core.stream import StreamEvent, TextDelta
from amplifier_agent.core.usage import Usage
from amplifier_agent.providers.accumulator import CallAccumulator
from amplifier_agent.providers.upstream_errors import Upstream, malformed, stream_error_event


class ChunkTranslator:
    """Turns decoded `chat.completion.chunk` objects into stream events; per call, never shared."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.acc = CallAccumulator()

    def feed(self, chunk: Any) -> list[StreamEvent]:
        if not isinstance(chunk, dict):
            raise malformed(self.upstream, "a chunk is not a JSON object")
        if chunk.get("error"):
            raise stream_error_event(chunk["error"], self.upstream)
        acc = self.acc
        acc.model = chunk.get("model") or acc.model
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._take_usage(usage)
        out: list[StreamEvent] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta")
            if delta:
                self._delta(delta, out)
            finish = choice.get("finish_reason")
            if finish is not None and acc.stop_reason is None:
                acc.stop_reason = finish
                self._close_thinking(out)
                out += acc.close_calls()
        return out

    def _delta(self, delta: dict[str, Any], out: list[StreamEvent]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            thought = self.acc.think(reasoning)
            if thought is not None:
                out.append(thought)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self._close_thinking(out)
            out.append(TextDelta(content))
        for part in delta.get("tool_calls") or ():
            self._close_thinking(out)
            call_id = part.get("id")
            pending = self.acc.call(self._slot(part.get("index"), call_id))
            pending.call_id = call_id or pending.call_id
            function = part.get("function")
            if isinstance(function, dict):
                pending.name = function.get("name") or pending.name
                pending.parts.append(function.get("arguments") or "")

    def _slot(self, index: int | None, call_id: str | None) -> int:
        """Some compatible servers omit `index`: a new id then opens the next call."""
        calls = self.acc.calls
        if index is not None:
            return index
        if call_id and all(c.call_id != call_id for c in calls.values()):
            return len(calls)
        return max(calls, default=0)

    def _close_thinking(self, out: list[StreamEvent]) -> None:
        done = self.acc.close_thinking()
        if done is not None:
            out.append(done)

    def _take_usage(self, usage: dict[str, Any]) -> None:
        details = usage.get("prompt_tokens_details")
        cached = (details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
        self.acc.usage_seen = True
        self.acc.usage = Usage(
            input_tokens=max(0, (usage.get("prompt_tokens") or 0) - cached),
            output_tokens=usage.get("completion_tokens") or 0,
            cache_read_tokens=cached,
        )
