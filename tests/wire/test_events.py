"""Display events as protocol 0.3.0 notifications (§10.4): method names and field mapping."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

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
from amplifier_agent.core.usage import Usage
from amplifier_agent.wire.events import DISPLAY_EVENT_TYPES, event_method, to_notification

USAGE = Usage(100, 20, 30, 4, cost_usd=Decimal("0.012300"))


@pytest.mark.parametrize(
    ("event", "method", "fields"),
    [
        (ResultDelta("he"), "result/delta", {"text": "he"}),
        (ResultFinal("hello"), "result/final", {"text": "hello"}),
        (
            ResultFinal("hello", USAGE),
            "result/final",
            {
                "text": "hello",
                "usage": {
                    "inputTokens": 100,
                    "outputTokens": 20,
                    "cacheReadTokens": 30,
                    "cacheWriteTokens": 4,
                    "cost": "0.0123",
                },
            },
        ),
        (
            ResultFinal("x", Usage(1, 2, cost_usd=None)),
            "result/final",
            {
                "text": "x",
                "usage": {
                    "inputTokens": 1,
                    "outputTokens": 2,
                    "cacheReadTokens": 0,
                    "cacheWriteTokens": 0,
                },
            },
        ),
        (
            ToolStarted("c1", "bash", {"command": "ls"}),
            "tool/started",
            {"toolCallId": "c1", "name": "bash", "args": {"command": "ls"}},
        ),
        (
            ToolStarted("c1", "bash", {}, "builder"),
            "tool/started",
            {"toolCallId": "c1", "name": "bash", "args": {}, "agentName": "builder"},
        ),
        (
            ToolCompleted("c1", "bash", "out", 12),
            "tool/completed",
            {"toolCallId": "c1", "name": "bash", "result": "out", "durationMs": 12},
        ),
        (
            ToolCompleted("c1", "bash", "Error: x: y", 3, "explorer", True),
            "tool/completed",
            {
                "toolCallId": "c1",
                "name": "bash",
                "result": "Error: x: y",
                "durationMs": 3,
                "agentName": "explorer",
            },
        ),
        (Progress("compacted"), "progress", {"message": "compacted"}),
        (Progress("half", 50.0), "progress", {"message": "half", "percent": 50.0}),
        (ThinkingStreamed("hm"), "thinking/delta", {"text": "hm"}),
        (ThinkingFinished("hmm"), "thinking/final", {"text": "hmm"}),
        (
            ErrorReported("tool_execution_failed", "bash: boom", recoverable=True),
            "error",
            {"code": "tool_execution_failed", "message": "bash: boom", "recoverable": True},
        ),
    ],
)
def test_fields(event: DisplayEvent, method: str, fields: dict[str, Any]) -> None:
    notification = to_notification(event, "s1", "turn-2")

    assert notification == {
        "jsonrpc": "2.0",
        "method": method,
        "params": {"sessionId": "s1", "turnId": "turn-2", **fields},
    }


def test_usage_carries_every_optional_field_when_known() -> None:
    event = UsageReported(
        USAGE,
        model="claude-x",
        provider="main",
        llm_duration_ms=321,
        session_cost_total_usd=Decimal("1.50"),
        agent_name="builder",
    )

    assert to_notification(event, "", "turn-1")["params"] == {
        "sessionId": "",
        "turnId": "turn-1",
        "inputTokens": 100,
        "outputTokens": 20,
        "cacheReadTokens": 30,
        "cacheWriteTokens": 4,
        "cost": "0.0123",
        "llmDurationMs": 321,
        "model": "claude-x",
        "provider": "main",
        "sessionCostTotal": "1.5",
        "agentName": "builder",
    }


def test_usage_omits_unknown_costs_and_the_root_agent() -> None:
    event = UsageReported(Usage(1, 1, cost_usd=None), "m", "p", 5, session_cost_total_usd=None)

    params = to_notification(event, "s", "turn-1")["params"]

    assert not {"cost", "sessionCostTotal", "agentName"} & set(params)


def test_costs_are_plain_decimal_strings() -> None:
    tiny = UsageReported(Usage(cost_usd=Decimal("1E-7")), "m", "p", 1)
    whole = UsageReported(Usage(cost_usd=Decimal("2.000")), "m", "p", 1)

    assert to_notification(tiny, "s", "t")["params"]["cost"] == "0.0000001"
    assert to_notification(whole, "s", "t")["params"]["cost"] == "2"


def test_an_error_without_a_turn_omits_turn_id() -> None:
    params = to_notification(ErrorReported("internal", "x", False), "s", None)["params"]

    assert params == {"sessionId": "s", "code": "internal", "message": "x", "recoverable": False}


def test_the_nine_types() -> None:
    assert DISPLAY_EVENT_TYPES == (
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
    assert event_method(UsageReported(Usage(), "m", "p", 0)) == "usage"


@pytest.mark.parametrize(
    ("engine_code", "wire_code", "message"),
    [
        ("config_unknown_key", "config_validation", "config_unknown_key: bad key"),
        ("argv_path_unreadable", "config_validation", "argv_path_unreadable: bad key"),
        ("credentials_corrupt", "config_validation", "credentials_corrupt: bad key"),
        ("module_not_installed", "provider_init_failed", "module_not_installed: bad key"),
        ("upstream_surprise", "internal", "upstream_surprise: bad key"),
        ("runtime", "runtime", "bad key"),
        ("provider_not_configured", "provider_not_configured", "bad key"),
        ("tool_execution_failed", "tool_execution_failed", "bad key"),
    ],
)
def test_error_events_carry_a_wire_code(engine_code: str, wire_code: str, message: str) -> None:
    event = ErrorReported(engine_code, "bad key", recoverable=False)

    params = to_notification(event, "s", "turn-1")["params"]

    assert (params["code"], params["message"], params["recoverable"]) == (
        wire_code,
        message,
        False,
    )
