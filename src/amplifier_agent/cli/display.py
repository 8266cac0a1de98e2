"""Rendering display events on stderr for `run`: `ndjson` notifications or `[type] summary` text."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal, TextIO

import orjson

from amplifier_agent.core.events import (
    DisplayEvent,
    ErrorReported,
    Progress,
    ResultDelta,
    ResultFinal,
    ThinkingFinished,
    ThinkingStreamed,
    ToolCompleted,
    ToolStarted,
    UsageReported,
)
from amplifier_agent.core.usage import format_decimal
from amplifier_agent.wire.events import event_method, to_notification

Verbosity = Literal["quiet", "normal", "verbose", "debug"]
_HIDDEN_AT_NORMAL = (ThinkingStreamed, ThinkingFinished, Progress, ResultDelta)


@dataclass
class EventPrinter:
    """Writes each event to `stream` (stderr) as the chosen display mode says."""

    mode: Literal["text", "ndjson"]
    verbosity: Verbosity = "normal"
    stream: TextIO = sys.stderr

    def __call__(self, event: DisplayEvent, session_id: str, turn_id: str | None) -> None:
        if self.mode == "ndjson":
            line = orjson.dumps(to_notification(event, session_id, turn_id)).decode()
        else:
            text_line = self._text_line(event, session_id, turn_id)
            if text_line is None:
                return
            line = text_line
        self.stream.write(line + "\n")
        self.stream.flush()

    def _text_line(self, event: DisplayEvent, session_id: str, turn_id: str | None) -> str | None:
        if self.verbosity == "quiet":
            return None
        if isinstance(event, ErrorReported) and not event.recoverable:
            return None  # the face ends a failed turn with its own `[error] <code>: ...` line
        if self.verbosity == "normal" and isinstance(event, _HIDDEN_AT_NORMAL):
            return None
        line = f"[{event_method(event)}] {summary(event)}"
        if self.verbosity == "debug":
            params = to_notification(event, session_id, turn_id)["params"]
            line += " " + orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode()
        return line


def summary(event: DisplayEvent) -> str:
    """A one-line human summary of an event."""
    match event:
        case ResultDelta(text=text) | ThinkingStreamed(text=text) | ThinkingFinished(text=text):
            return _one_line(text)
        case ResultFinal(text=text):
            return _one_line(text)
        case ToolStarted(name=name, args=args):
            return f"{name} {_one_line(orjson.dumps(args).decode())}"
        case ToolCompleted(name=name, duration_ms=ms, is_error=is_error, result=result):
            return f"{name} {'failed' if is_error else 'ok'} ({ms}ms) {_one_line(result)}"
        case Progress(message=message):
            return message
        case UsageReported():
            return usage_line(event)
        case ErrorReported(code=code, message=message):
            return f"{code}: {message}"


def usage_line(event: UsageReported) -> str:
    """`in=N out=N cost=$X cache_read=N cache_write=N dur=Nms model=M provider=P
    session_total=$Y agent=A`, absent parts omitted."""
    usage = event.usage
    parts = [f"in={usage.input_tokens}", f"out={usage.output_tokens}"]
    if usage.cost_usd is not None:
        parts.append(f"cost=${format_decimal(usage.cost_usd)}")
    parts += [
        f"cache_read={usage.cache_read_tokens}",
        f"cache_write={usage.cache_write_tokens}",
        f"dur={event.llm_duration_ms}ms",
        f"model={event.model}",
        f"provider={event.provider}",
    ]
    if event.session_cost_total_usd is not None:
        parts.append(f"session_total=${format_decimal(event.session_cost_total_usd)}")
    if event.agent_name:
        parts.append(f"agent={event.agent_name}")
    return " ".join(parts)


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
