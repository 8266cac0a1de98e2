"""What a fake upstream answers: a provider-neutral scripted reply, rendered per wire format.

A `Reply` is plain data and round-trips through JSON, so a test in another process (or a
benchmark) can script the fake over its control endpoint.
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

BlockType = Literal["text", "thinking", "tool_call"]


@dataclass
class Block:
    """One content block, rendered in order.

    text: `text` (split into `chunks` deltas when given); thinking: `text` + `signature`;
    tool_call: `id`, `name`, `arguments` (a dict, or a raw string sent verbatim).
    """

    type: BlockType
    text: str = ""
    chunks: list[str] | None = None
    signature: str = ""
    id: str = ""
    name: str = ""
    arguments: dict[str, Any] | str = field(default_factory=dict)

    def deltas(self) -> list[str]:
        return list(self.chunks) if self.chunks is not None else [self.text]


@dataclass
class Reply:
    """One scripted answer to a model call.

    `usage` keys: input (non-cached), output, cache_read, cache_write.
    `error`: answer with this HTTP error instead (`status`, `message`, optional `type`,
    `headers`); `raw_body` replaces the rendered error body.
    Faults: `delay_s` before each streamed event; `stall_after_events` + `stall_s` pause once;
    `die_after_events` cuts the connection without finishing the stream.
    `for_model` (a glob) restricts which requests may take this reply.
    """

    blocks: list[Block] = field(default_factory=list)
    usage: dict[str, int] = field(
        default_factory=lambda: {"input": 10, "output": 5, "cache_read": 0, "cache_write": 0}
    )
    model: str | None = None
    stop_reason: str | None = None
    error: dict[str, Any] | None = None
    raw_body: str | None = None
    delay_s: float = 0.0
    stall_after_events: int | None = None
    stall_s: float = 0.0
    die_after_events: int | None = None
    for_model: str | None = None

    def matches(self, model: str) -> bool:
        return self.for_model is None or fnmatch.fnmatchcase(model, self.for_model)

    def stop(self) -> str:
        """Neutral stop reason: `tool_use` when the reply calls tools, else `end_turn`."""
        if self.stop_reason:
            return self.stop_reason
        return "tool_use" if any(b.type == "tool_call" for b in self.blocks) else "end_turn"

    def usage_of(self, key: str) -> int:
        return int(self.usage.get(key, 0))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        fields = dict(data)
        fields["blocks"] = [Block(**b) for b in data.get("blocks", [])]
        return cls(**fields)


def reply_text(text: str, **kwargs: Any) -> Reply:
    return Reply(blocks=[Block(type="text", text=text)], **kwargs)


def reply_tool_calls(
    *calls: tuple[str, str, dict[str, Any]], text: str = "", **kwargs: Any
) -> Reply:
    """A reply calling tools: each call is (id, name, arguments)."""
    blocks = [Block(type="text", text=text)] if text else []
    blocks += [Block(type="tool_call", id=i, name=n, arguments=a) for i, n, a in calls]
    return Reply(blocks=blocks, **kwargs)
