"""The protocol 0.3.0 schemas in `conformance/schemas/` and everything the engine puts on the wire:
the schemas are closed and complete, they refuse what 0.3.0 does not allow, and every
notification, result and error of every dispatch conformance fixture matches them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

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
from amplifier_agent.wire.events import DISPLAY_EVENT_TYPES, to_notification
from amplifier_agent.wire.protocol import WIRE_CODES
from testkit import FakeUpstream
from testkit.conformance import load_fixtures
from testkit.conformance_checks import Observed
from tests.wire.schemas import (
    RESULT_SCHEMAS,
    SCHEMAS,
    load,
    notification_problems,
    object_schemas,
    response_problems,
    schema_files,
)
from tests.wire.test_conformance_dispatch import FIXTURES, replay

USAGE = Usage(10, 5, 3, 2, Decimal("0.0042"))


@pytest.fixture(autouse=True)
def anthropic_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-schemas")


@pytest.mark.parametrize("path", schema_files(), ids=lambda p: str(p.relative_to(SCHEMAS)))
def test_every_schema_is_valid_and_every_object_in_it_is_closed(path: Path) -> None:
    schema = json.loads(path.read_text("utf-8"))

    Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith("/protocol/0.3.0/" + path.relative_to(SCHEMAS).as_posix())
    for where, found in object_schemas(schema):
        assert found.get("additionalProperties") is False, where
        assert set(found.get("required", ())) <= set(found["properties"]), where


def test_there_is_a_schema_for_every_event_and_method_and_the_enums_match_the_engine() -> None:
    common = load("common.json")["$defs"]

    for method in DISPLAY_EVENT_TYPES:
        assert (SCHEMAS / "notifications" / f"{method.replace('/', '-')}.json").is_file()
    for schema in RESULT_SCHEMAS.values():
        assert (SCHEMAS / schema).is_file()
    assert common["displayEvent"]["enum"] == list(DISPLAY_EVENT_TYPES)
    assert set(common["wireCode"]["enum"]) == WIRE_CODES


def note(method: str, **params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": {"sessionId": "s", **params}}


TOOL_COMPLETED = {"turnId": "t", "toolCallId": "c", "name": "bash", "result": "x", "durationMs": 1}
MISMATCH = {
    "code": "protocol_version_mismatch",
    "classification": "protocol",
    "message": "m",
    "clientVersion": "0.2.0",
    "serverVersion": "0.3.0",
    "remediation": "set allowProtocolSkew",
}
REPLY = {"reply": "r", "turnId": "t", "sessionId": "s"}
FINAL = note("result/final", turnId="t", text="r")


def failed(data: dict[str, Any]) -> dict[str, Any]:
    """A `-32000` error response carrying `data`."""
    return {"error": {"code": -32000, "message": "m", "data": data}}


def without(fields: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if key != name}


def test_the_valid_samples_pass() -> None:
    assert notification_problems(note("tool/completed", **TOOL_COMPLETED)) == []
    assert response_problems("initialize", failed(MISMATCH)) == []
    assert response_problems("turn/submit", {"result": {**REPLY, "finalEvent": FINAL}}) == []


@pytest.mark.parametrize(
    "notification",
    [
        note("tool/completed", **TOOL_COMPLETED, isError=True),
        note("tool/completed", **without(TOOL_COMPLETED, "durationMs")),
        note("usage", turnId="t", inputTokens=1),
        note("result/final", turnId="t", text="r", usage={"inputTokens": 1, "outputTokens": 1}),
        note("error", code="config_unknown_key", message="m", recoverable=True),
        note("result/delta", text="no turn id"),
        note("telepathy", turnId="t"),
    ],
    ids=[
        "isError",
        "no-duration",
        "usage-no-output",
        "final-partial-usage",
        "non-wire-code",
        "delta-no-turn",
        "unknown-method",
    ],
)
def test_the_notification_schemas_refuse_what_0_3_0_does_not_allow(
    notification: dict[str, Any],
) -> None:
    assert notification_problems(notification) != []


@pytest.mark.parametrize(
    ("method", "response"),
    [
        ("turn/submit", {"result": {**REPLY, "finalEvent": FINAL, "error": None}}),
        ("turn/submit", {"result": {**REPLY, "finalEvent": None}}),
        ("initialize", failed({**MISMATCH, "expected": "0.3.0", "received": "0.2.0"})),
        ("initialize", failed(without(MISMATCH, "remediation"))),
        ("cache/info", failed({**MISMATCH, "code": "internal", "classification": "engine"})),
        ("session/end", {"result": {"sessionId": "s", "ended": False}}),
        ("agent/shutdown", {"result": {"ok": True}}),
    ],
    ids=[
        "submit-error-key",
        "submit-no-final",
        "mismatch-old-names",
        "mismatch-no-remediation",
        "skew-fields-on-other-code",
        "not-ended",
        "shutdown-extra",
    ],
)
def test_the_result_and_error_schemas_refuse_what_0_3_0_does_not_allow(
    method: str, response: dict[str, Any]
) -> None:
    assert response_problems(method, response) != []


@pytest.mark.parametrize(
    "event",
    [
        ResultDelta("Hel"),
        ResultFinal("Hello", USAGE),
        ResultFinal("Hello"),
        ToolStarted("c1", "bash", {"command": "ls"}, "explorer"),
        ToolCompleted("c1", "bash", "Error: x: y", 3, "explorer", True),
        Progress("compacting", 50.0),
        Progress("compacted"),
        ThinkingStreamed("hm"),
        ThinkingFinished("hmm"),
        UsageReported(USAGE, "claude-x", "anthropic", 120, Decimal("1.5"), "explorer"),
        UsageReported(Usage(1, 1), "m", "p", 0),
        ErrorReported("config_unknown_key", "bad key", recoverable=False),
    ],
    ids=repr,
)
def test_every_translated_event_matches_its_schema(event: DisplayEvent) -> None:
    assert notification_problems(to_notification(event, "s1", "turn-1")) == []


async def test_every_message_of_every_dispatch_fixture_matches_the_schemas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problems: list[str] = []
    notified: set[str] = set()
    answered: set[str] = set()
    for fixture in load_fixtures(FIXTURES):
        name = fixture["name"]
        monkeypatch.setenv("AMPLIFIER_AGENT_HOME", str(tmp_path / name / "home"))
        observed = Observed()
        with FakeUpstream() as fake:  # whether the fixture passes is test_dispatch_fixture's
            await replay(fixture, fake, tmp_path / name, observed)
        for notification in observed.notifications:
            notified.add(notification["method"])
            problems += [f"{name}: {p}" for p in notification_problems(notification)]
        for key, response in observed.responses.items():
            method = observed.methods.get(key)
            if method in RESULT_SCHEMAS:
                answered.add(method if "result" in response else "error")
                problems += [f"{name}: {p}" for p in response_problems(method, response)]

    assert problems == []
    # Only compaction emits `progress`; the translator test above covers its schema.
    assert notified == set(DISPLAY_EVENT_TYPES) - {"progress"}
    assert answered == {*RESULT_SCHEMAS, "error"}


def test_the_notifications_scripted_for_the_sdks_match_the_schemas() -> None:
    """The process fixtures' fake engine prints these lines; the SDKs are tested against them,
    so they must be what the real engine could print."""
    problems, checked = [], 0
    for path in sorted((FIXTURES.parent / "process").glob("*.json")):
        for line in json.loads(path.read_text("utf-8"))["stderr_lines"]:
            try:
                message = json.loads(line)
            except ValueError:
                continue  # the noise lines a reader must skip
            if isinstance(message, dict) and "method" in message:
                checked += 1
                problems += [f"{path.stem}: {p}" for p in notification_problems(message)]

    assert checked > 0
    assert problems == []
