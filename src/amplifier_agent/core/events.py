"""The nine display events a turn emits (protocol 0.3.0 §10.4); every face renders these.

Consumers match on the type and end with `assert_never`, so a new variant breaks the build.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from amplifier_agent.core.usage import Usage


@dataclass(frozen=True, slots=True)
class ResultDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ResultFinal:
    text: str
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class ToolStarted:
    tool_call_id: str
    name: str
    args: dict[str, Any]
    agent_name: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCompleted:
    tool_call_id: str
    name: str
    result: str
    duration_ms: int
    agent_name: str | None = None
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    message: str
    percent: float | None = None


@dataclass(frozen=True, slots=True)
class ThinkingStreamed:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingFinished:
    """One per thinking block."""

    text: str


@dataclass(frozen=True, slots=True)
class UsageReported:
    """One per model call, root and sub-agent alike."""

    usage: Usage
    model: str
    provider: str
    llm_duration_ms: int
    session_cost_total_usd: Decimal | None = None
    agent_name: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorReported:
    code: str
    message: str
    recoverable: bool


DisplayEvent = (
    ResultDelta
    | ResultFinal
    | ToolStarted
    | ToolCompleted
    | Progress
    | ThinkingStreamed
    | ThinkingFinished
    | UsageReported
    | ErrorReported
)
