"""Events one streamed model call yields, whatever provider's wire format produced them.

A call yields deltas in arrival order and always ends with exactly one `CallDone` (or raises a
`ProviderError`).
"""

from __future__ import annotations

from dataclasses import dataclass

from amplifier_agent.core.messages import ThinkingBlock, ToolCall
from amplifier_agent.core.usage import Usage


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDone:
    """A finished reasoning block, with the signature needed to replay it."""

    block: ThinkingBlock


@dataclass(frozen=True, slots=True)
class ToolCallDone:
    """A fully assembled tool call (arguments parsed from the streamed JSON)."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class CallDone:
    """The end of a model call: its usage (with cost when the price is known) and stop reason.

    `stop_reason` is normalised to `end_turn`, `tool_use`, `max_tokens` or `stop_sequence`
    (anything else passes through as the provider spelled it).
    """

    usage: Usage
    model: str
    provider: str
    stop_reason: str
    duration_ms: int


StreamEvent = TextDelta | ThinkingDelta | ThinkingDone | ToolCallDone | CallDone
