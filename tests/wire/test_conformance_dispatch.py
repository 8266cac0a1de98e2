"""The dispatch conformance fixtures (SPEC §10.5) replayed against `Dispatcher` with a scripted fake
provider, one §10.5 report per fixture; and proof that the runner fails wrong expectations."""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from testkit import FakeUpstream, Reply
from testkit.conformance import FixtureReport, load_fixtures, replay_fixture
from testkit.conformance_checks import Observed

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "conformance" / "fixtures" / "dispatch"
MCP_ECHO_SERVER = REPO / "tests" / "tools" / "mcp_echo_server.py"
REQUIRED = {
    "initialize-baseline",
    "initialize-alias",
    "initialize-with-mcp-config-path",
    "initialize-with-protocol-skew-override",
    "version_skew",
    "capability_negotiation",
    "turn-event-order",
    "resume_continuity",
    "subagent_lineage",
    "session-create-end",
    "agent-not-ready",
}
ASSERTION_KINDS = {
    "notification_emitted",
    "no_notification",
    "error_returned",
    "response_matches",
    "notification_order",
    "session_state",
}
#: Read at import: the autouse fixture scrubs `AMPLIFIER_*` variables from each test's env.
REPORTS = Path(
    os.environ.get("AMPLIFIER_CONFORMANCE_REPORTS")
    or Path(tempfile.gettempdir()) / "amplifier-agent-conformance"
)


class ScriptedFake:
    """`FakeUpstream` as the runner's scripted provider."""

    def __init__(self, fake: FakeUpstream) -> None:
        self.fake = fake

    @property
    def url(self) -> str:
        return self.fake.url

    def script(self, replies: Sequence[Mapping[str, Any]]) -> None:
        self.fake.enqueue(*(Reply.from_json(dict(reply)) for reply in replies))


@pytest.fixture(autouse=True)
def anthropic_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-conformance")


def fixtures_by_name() -> dict[str, dict[str, Any]]:
    return {fixture["name"]: fixture for fixture in load_fixtures(FIXTURES)}


async def replay(
    fixture: Mapping[str, Any],
    fake: FakeUpstream,
    workdir: Path,
    observed: Observed | None = None,
) -> FixtureReport:
    workdir.mkdir(exist_ok=True)
    return await replay_fixture(
        fixture,
        workdir=workdir,
        upstream=ScriptedFake(fake),
        placeholders={"MCP_ECHO_SERVER": str(MCP_ECHO_SERVER)},
        observed=observed,
    )


def write_report(report: FixtureReport) -> None:
    directory = REPORTS / "engine"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{report.fixture}.json").write_text(json.dumps(report.to_json(), indent=2))


def test_every_required_fixture_exists_and_every_kind_is_used() -> None:
    fixtures = fixtures_by_name()
    assert set(fixtures) >= REQUIRED
    for path in FIXTURES.glob("*.json"):
        assert json.loads(path.read_text())["name"] == path.stem
    used = {
        step["expect"]["kind"]
        for fixture in fixtures.values()
        for step in fixture["steps"]
        if "expect" in step
    }
    assert used == ASSERTION_KINDS


@pytest.mark.parametrize("name", sorted(fixtures_by_name()))
async def test_dispatch_fixture(name: str, fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    fixture = fixtures_by_name()[name]

    report = await replay(fixture, fake_upstream, tmp_path / "work")

    write_report(report)
    document = report.to_json()
    assert set(document) == {"fixture", "language", "passed", "assertions"}
    assert document["language"] == "engine"
    expected = sum(1 for step in fixture["steps"] if "expect" in step)
    assert len(document["assertions"]) == expected
    failed = [a for a in document["assertions"] if not a["passed"]]
    assert report.passed, json.dumps(failed, indent=2)


def expectations(fixture: dict[str, Any]) -> list[dict[str, Any]]:
    return [step["expect"] for step in fixture["steps"] if "expect" in step]


WRONG_TURN_EVENT_ORDER: list[tuple[int, dict[str, Any]]] = [
    # notification_order: the real order reversed
    (0, {"methods": ["result/final", "usage", "result/delta", "thinking/final", "thinking/delta"]}),
    # notification_emitted: a value the turn never produced
    (1, {"params_subset": {"text": "Goodbye."}}),
    # response_matches: a different reply
    (2, {"result_subset": {"reply": "Hello, world!"}}),
    # no_notification: a method that was emitted
    (6, {"method": "tool/started"}),
]


@pytest.mark.parametrize(("index", "change"), WRONG_TURN_EVENT_ORDER)
async def test_the_runner_fails_a_wrong_expectation(
    index: int, change: dict[str, Any], fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fixture = copy.deepcopy(fixtures_by_name()["turn-event-order"])
    wrong = expectations(fixture)[index]
    wrong.update(change)

    report = await replay(fixture, fake_upstream, tmp_path / "work")

    assert not report.passed
    results = report.assertions
    assert [r.passed for r in results].count(False) == 1
    assert not results[index].passed and results[index].kind == wrong["kind"]


@pytest.mark.parametrize(
    "change",
    [
        {"code": -32601},
        {"data_code": "agent_not_ready"},
        {"id": 99},
    ],
)
async def test_error_returned_fails_on_a_wrong_code_data_code_or_id(
    change: dict[str, Any], fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fixture = copy.deepcopy(fixtures_by_name()["version_skew"])
    expectations(fixture)[0].update(change)

    report = await replay(fixture, fake_upstream, tmp_path / "work")

    assert [a.passed for a in report.assertions] == [False, True, True]


async def test_session_state_fails_on_the_wrong_resumed_flag(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fixture = copy.deepcopy(fixtures_by_name()["resume_continuity"])
    states = [e for e in expectations(fixture) if e["kind"] == "session_state"]
    states[1]["resumed"] = False

    report = await replay(fixture, fake_upstream, tmp_path / "work")

    failed = [a for a in report.assertions if not a.passed]
    assert [a.kind for a in failed] == ["session_state"]
    assert "resumed" in failed[0].detail


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ([{"send": {"jsonrpc": "2.0", "id": 1, "method": "cache/info"}}], "no assertions"),
        ([{"expect": {"kind": "response_is_fine", "id": 1}}], "unknown assertion kind"),
        ([{"expect": {"kind": "error_returned", "id": 1}}], "missing code"),
        ([{"send": {"jsonrpc": "2.0", "id": 1, "method": "$NOWHERE"}}], "unknown placeholder"),
        ([{"teleport": True}], "unknown step"),
    ],
)
async def test_a_fixture_without_real_assertions_never_passes(
    steps: list[dict[str, Any]], reason: str, tmp_path: Path
) -> None:
    report = await replay_fixture({"name": "broken", "steps": steps}, workdir=tmp_path)

    assert not report.passed
    assert reason in " ".join(a.detail for a in report.assertions)
    assert report.to_json()["passed"] is False
