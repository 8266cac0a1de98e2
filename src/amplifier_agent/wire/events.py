"""Display events as protocol 0.3.0 notifications (SPEC §10.4): the one translator shared by
`run --display ndjson` and `Engine.dispatch`."""

from __future__ import annotations

from typing import Any, assert_never

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
from amplifier_agent.core.usage import Usage, format_decimal

#: The nine event types, in the order the protocol lists them.
DISPLAY_EVENT_TYPES: tuple[str, ...] = (
    "result/delta",
    "result/final",
    "tool/started",
    "tool/completed",
    "progress",
    "thinking/delta",
    "thinking/final",
    "usage",
    "error",
)


def event_method(event: DisplayEvent) -> str:
    match event:
        case ResultDelta():
            return "result/delta"
        case ResultFinal():
            return "result/final"
        case ToolStarted():
            return "tool/started"
        case ToolCompleted():
            return "tool/completed"
        case Progress():
            return "progress"
        case ThinkingStreamed():
            return "thinking/delta"
        case ThinkingFinished():
            return "thinking/final"
        case UsageReported():
            return "usage"
        case ErrorReported():
            return "error"
        case _:
            assert_never(event)


def usage_fields(usage: Usage) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "cacheReadTokens": usage.cache_read_tokens,
        "cacheWriteTokens": usage.cache_write_tokens,
    }
    if usage.cost_usd is not None:
        fields["cost"] = format_decimal(usage.cost_usd)
    return fields


def _with_agent(fields: dict[str, Any], agent_name: str | None) -> dict[str, Any]:
    if agent_name is not None:
        fields["agentName"] = agent_name
    return fields


def event_fields(event: DisplayEvent) -> dict[str, Any]:
    """The event-specific `params` fields (without sessionId/turnId)."""
    match event:
        case ResultDelta(text=text) | ThinkingStreamed(text=text) | ThinkingFinished(text=text):
            return {"text": text}
        case ResultFinal(text=text, usage=usage):
            return {"text": text} if usage is None else {"text": text, "usage": usage_fields(usage)}
        case ToolStarted():
            fields = {"toolCallId": event.tool_call_id, "name": event.name, "args": event.args}
            return _with_agent(fields, event.agent_name)
        case ToolCompleted():
            return _tool_completed_fields(event)
        case Progress(message=message, percent=percent):
            return (
                {"message": message}
                if percent is None
                else {"message": message, "percent": percent}
            )
        case UsageReported():
            return _usage_event_fields(event)
        case ErrorReported():
            return _error_fields(event)
        case _:
            assert_never(event)


def _tool_completed_fields(event: ToolCompleted) -> dict[str, Any]:
    """Exactly the 0.3.0 fields: the schema is closed, so a failed call shows in `result`
    (`Error: <code>: ...`) and, when the call raised or was refused, in the `error`
    notification emitted before it."""
    fields: dict[str, Any] = {
        "toolCallId": event.tool_call_id,
        "name": event.name,
        "result": event.result,
        "durationMs": event.duration_ms,
    }
    return _with_agent(fields, event.agent_name)


def _error_fields(event: ErrorReported) -> dict[str, Any]:
    """`code` from the 20-code wire enum; a mapped engine code stays readable at the start of
    the message, as in a JSON-RPC error."""
    # Imported here: `wire.protocol` reads DISPLAY_EVENT_TYPES from this module while loading.
    from amplifier_agent.wire.protocol import wire_code

    code = wire_code(event.code)
    message = event.message if code == event.code else f"{event.code}: {event.message}"
    return {"code": code, "message": message, "recoverable": event.recoverable}


def _usage_event_fields(event: UsageReported) -> dict[str, Any]:
    fields = usage_fields(event.usage)
    fields.update(llmDurationMs=event.llm_duration_ms, model=event.model, provider=event.provider)
    if event.session_cost_total_usd is not None:
        fields["sessionCostTotal"] = format_decimal(event.session_cost_total_usd)
    return _with_agent(fields, event.agent_name)


def to_notification(event: DisplayEvent, session_id: str, turn_id: str | None) -> dict[str, Any]:
    """`{"jsonrpc":"2.0","method":<type>,"params":{sessionId, turnId?, ...}}`."""
    params: dict[str, Any] = {"sessionId": session_id}
    if turn_id is not None:
        params["turnId"] = turn_id
    params.update(event_fields(event))
    return {"jsonrpc": "2.0", "method": event_method(event), "params": params}
