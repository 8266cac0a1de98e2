"""One model call's state while its stream is translated, shared by every wire adapter.

Each delta costs O(1): text parts are appended to lists and joined once, when their block closes,
so a reply of many small deltas never copies what came before.
"""

from __future__ import annotations

import orjson

from amplifier_agent.core.messages import ThinkingBlock, ToolCall
from amplifier_agent.core.stream import ThinkingDelta, ThinkingDone, ToolCallDone
from amplifier_agent.core.usage import Usage


class PendingCall:
    """A tool call whose arguments are still arriving."""

    __slots__ = ("call_id", "name", "parts")

    def __init__(self, call_id: str = "", name: str = "") -> None:
        self.call_id = call_id
        self.name = name
        self.parts: list[str] = []

    def done(self) -> ToolCallDone:
        text = "".join(self.parts)
        return ToolCallDone(ToolCall.from_text(self.call_id, self.name, text, loads=orjson.loads))


class CallAccumulator:
    """What one call has streamed so far: the open reasoning block, the tool calls by their wire
    index, the served model, usage and the stop reason. One per call, never shared."""

    __slots__ = ("_signature", "_thinking", "calls", "model", "stop_reason", "usage", "usage_seen")

    def __init__(self, model: str = "") -> None:
        self.model = model
        self.usage = Usage()
        self.usage_seen = False
        self.stop_reason: str | None = None
        self.calls: dict[int, PendingCall] = {}
        self._thinking: list[str] | None = None
        self._signature = ""

    # -- reasoning ------------------------------------------------------------------------------

    def open_thinking(self) -> None:
        self._thinking, self._signature = [], ""

    def think(self, text: str) -> ThinkingDelta | None:
        """One reasoning delta; opens a block when none is open."""
        if self._thinking is None:
            self.open_thinking()
        assert self._thinking is not None
        if not text:
            return None
        self._thinking.append(text)
        return ThinkingDelta(text)

    def sign(self, signature: str) -> None:
        self._signature = signature

    def close_thinking(self) -> ThinkingDone | None:
        """The open reasoning block, whole; None when none is open."""
        if self._thinking is None:
            return None
        block = ThinkingBlock("".join(self._thinking), self._signature)
        self._thinking, self._signature = None, ""
        return ThinkingDone(block)

    # -- tool calls -----------------------------------------------------------------------------

    def call(self, index: int) -> PendingCall:
        """The call at wire `index`, opened on first sight."""
        pending = self.calls.get(index)
        if pending is None:
            pending = self.calls[index] = PendingCall()
        return pending

    def close_call(self, index: int) -> ToolCallDone | None:
        pending = self.calls.pop(index, None)
        return None if pending is None else pending.done()

    def close_calls(self) -> list[ToolCallDone]:
        """Every open call, in wire order."""
        done = [self.calls[index].done() for index in sorted(self.calls)]
        self.calls.clear()
        return done
