"""What `run` writes: envelopes (§7.3) and the stderr event lines (§7.2 verbosity)."""

from __future__ import annotations

import io
import json
import uuid
from decimal import Decimal

import pytest

from amplifier_agent.cli.display import EventPrinter, Verbosity, usage_line
from amplifier_agent.cli.envelope import EnvelopeError, envelope, preboot_envelope
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

CID = str(uuid.uuid4())


def test_success_envelope() -> None:
    usage = Usage(1000, 56, 200, 34, cost_usd=Decimal("0.00420"))

    document = envelope(
        session_id="s1",
        turn_id="turn-3",
        reply="hi",
        usage=usage,
        duration_ms=2100,
        correlation_id=CID,
    )

    assert document == {
        "protocolVersion": "0.3.0",
        "sessionId": "s1",
        "turnId": "turn-3",
        "reply": "hi",
        "error": None,
        "metadata": {
            "tokensIn": 1234,
            "tokensOut": 56,
            "cacheReadTokens": 200,
            "cacheWriteTokens": 34,
            "costUsd": "0.0042",
            "durationMs": 2100,
            "bundleDigest": "",
            "engineVersion": "0.8.0",
            "protocolVersion": "0.3.0",
            "correlationId": CID,
        },
    }


def test_error_envelope_shows_the_spending_and_drops_the_reply() -> None:
    error = EnvelopeError("runtime", "upstream_auth_error: bad key")
    usage = Usage(5, 1, cost_usd=None)

    document = envelope(
        session_id="",
        turn_id="turn-1",
        reply="partial",
        usage=usage,
        duration_ms=9,
        correlation_id=CID,
        error=error,
    )

    assert document["reply"] == ""
    assert document["error"] == {
        "code": "runtime",
        "classification": "engine",
        "severity": "error",
        "correlationId": CID,
        "message": "upstream_auth_error: bad key",
    }
    assert document["metadata"]["tokensIn"] == 5
    assert "costUsd" not in document["metadata"]


def test_preboot_envelope() -> None:
    error = EnvelopeError("argv_conflict", "-y and -n are mutually exclusive", "pick one")

    document = preboot_envelope(error, CID)

    assert (document["sessionId"], document["turnId"], document["reply"]) == ("", "", "")
    assert document["error"]["classification"] == "protocol"
    assert document["error"]["remediation"] == "pick one"
    metadata = document["metadata"]
    assert (metadata["tokensIn"], metadata["tokensOut"], metadata["durationMs"]) == (0, 0, 0)
    assert "costUsd" not in metadata


EVENTS: list[DisplayEvent] = [
    ThinkingStreamed("thinking..."),
    ThinkingFinished("thought"),
    Progress("compacted context: 4 messages (10 -> 5 tokens)"),
    ToolStarted("c1", "bash", {"command": "ls"}),
    ToolCompleted("c1", "bash", "a\nb", 5),
    ResultDelta("par"),
    UsageReported(Usage(3, 4, cost_usd=None), "m", "p", 8),
    ErrorReported("tool_execution_failed", "bash: boom", True),
    ResultFinal("partial answer"),
    ErrorReported("runtime", "upstream_error: gone", False),
]


def render(mode: str, verbosity: Verbosity) -> list[str]:
    stream = io.StringIO()
    printer = EventPrinter(mode=mode, verbosity=verbosity, stream=stream)  # type: ignore[arg-type]
    for event in EVENTS:
        printer(event, "s1", "turn-1")
    return stream.getvalue().splitlines()


def tags(lines: list[str]) -> list[str]:
    return [line.split("]", 1)[0][1:] for line in lines]


def test_normal_hides_thinking_progress_and_deltas() -> None:
    lines = render("text", "normal")

    # The unrecoverable error is left to the face's own final `[error]` line.
    assert tags(lines) == ["tool/started", "tool/completed", "usage", "error", "result/final"]
    assert lines[0] == '[tool/started] bash {"command":"ls"}'
    assert lines[1] == "[tool/completed] bash ok (5ms) a b"
    assert lines[-1] == "[result/final] partial answer"


@pytest.mark.parametrize("verbosity", ["verbose", "debug"])
def test_verbose_and_debug_show_everything(verbosity: Verbosity) -> None:
    lines = render("text", verbosity)

    assert len(lines) == len(EVENTS) - 1
    if verbosity == "debug":
        params = json.loads(lines[5].split(" ", 2)[2])
        assert params == {"sessionId": "s1", "text": "par", "turnId": "turn-1"}


def test_quiet_prints_nothing_but_ndjson_ignores_verbosity() -> None:
    assert render("text", "quiet") == []
    lines = render("ndjson", "quiet")
    assert [json.loads(line)["method"] for line in lines][-2:] == ["result/final", "error"]
    assert len(lines) == len(EVENTS)


def test_usage_line_omits_absent_parts() -> None:
    known = UsageReported(
        Usage(10, 2, 3, 4, cost_usd=Decimal("0.5")),
        "m",
        "p",
        99,
        session_cost_total_usd=Decimal("1.25"),
        agent_name="builder",
    )
    unknown = UsageReported(Usage(10, 2, cost_usd=None), "m", "p", 99)

    assert usage_line(known) == (
        "in=10 out=2 cost=$0.5 cache_read=3 cache_write=4 dur=99ms model=m provider=p "
        "session_total=$1.25 agent=builder"
    )
    assert (
        usage_line(unknown) == "in=10 out=2 cache_read=0 cache_write=0 dur=99ms model=m provider=p"
    )


def test_storage_error_envelope_keeps_the_paid_for_reply() -> None:
    error = EnvelopeError("storage_error", "cannot write session metadata: disk full")

    document = envelope(
        session_id="s1",
        turn_id="turn-1",
        reply="The answer.",
        usage=Usage(5, 1, cost_usd=None),
        duration_ms=9,
        correlation_id=CID,
        error=error,
    )

    assert document["reply"] == "The answer."
    assert document["error"]["code"] == "storage_error"
    assert document["error"]["classification"] == "engine"
