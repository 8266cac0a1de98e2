"""Every process fixture replayed through the Python wrapper (one §10.5 report each), and the
TypeScript wrapper shown to produce the same events for the same fixtures."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from conformance_replay import (
    FIXTURE_DIR,
    REPO,
    REPORTS_VAR,
    evaluate,
    fixture_paths,
    observe,
    report,
)

REQUIRED = {
    "envelope-success",
    "envelope-error",
    "envelope-wins-over-exit-code",
    "envelope-missing-exit-0",
    "engine-exit-nonzero",
    "probe-version-mismatch",
    "probe-bad-json",
    "ndjson-noise-lines-skipped",
}
NODE_REPLAY = REPO / "wrappers" / "typescript" / "test" / "replay.mjs"
FIXTURES = fixture_paths()


def test_required_fixtures_exist_with_the_process_keys() -> None:
    names = {path.stem for path in FIXTURES}
    assert names >= REQUIRED
    for path in FIXTURES:
        fixture = json.loads(path.read_text())
        assert fixture["name"] == path.stem
        for key in ("version_json", "stdout", "stderr_lines", "exit_code", "delay_ms", "expected"):
            assert key in fixture, (path.name, key)


def _report_dir() -> Path:
    default = Path(tempfile.gettempdir()) / "amplifier-agent-conformance"
    directory = Path(os.environ.get(REPORTS_VAR) or default) / "python"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def python_observations() -> dict[str, Any]:
    """Each fixture replayed once; the report and the parity tests both read these."""

    async def replay_all() -> dict[str, Any]:
        return {path.stem: await observe(path) for path in FIXTURES}

    return asyncio.run(replay_all())


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_replays_and_reports(path: Path, python_observations: dict[str, Any]) -> None:
    fixture = json.loads(path.read_text())
    result = report(fixture, python_observations[path.stem])
    out = _report_dir() / f"{fixture['name']}.json"
    out.write_text(json.dumps(result, indent=2))
    failed = [a for a in result["assertions"] if not a["passed"]]
    assert result["passed"], failed
    assert set(result) == {"fixture", "language", "passed", "assertions"}


async def test_the_evaluator_really_fails_on_a_wrong_expectation() -> None:
    fixture = json.loads((FIXTURE_DIR / "envelope-success.json").read_text())
    observation = await observe(FIXTURE_DIR / "envelope-success.json")
    fixture["expected"]["events"][-1]["text"] = "something else"
    failed = [a for a in evaluate(fixture, observation) if not a["passed"]]
    assert [a["kind"] for a in failed] == ["events_fields"]
    assert "something else" in failed[0]["detail"]


def _canonical(observation: dict[str, Any]) -> dict[str, Any]:
    """Everything but the per-run correlation ids that the wrapper mints itself."""

    def strip(record: dict[str, Any] | None) -> dict[str, Any] | None:
        if record is None:
            return None
        return {k: v for k, v in record.items() if k != "correlationId"}

    return {
        "spawn_error": strip(observation["spawn_error"]),
        "events": [strip(e) for e in observation["events"]],
        "on_event": [strip(e) for e in observation["on_event"]],
    }


@pytest.fixture(scope="module")
def node_observations() -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    done = subprocess.run(
        [node, str(NODE_REPLAY), *map(str, FIXTURES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    observations: dict[str, Any] = json.loads(done.stdout)
    return observations


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_typescript_wrapper_produces_the_same_events(
    path: Path, node_observations: dict[str, Any], python_observations: dict[str, Any]
) -> None:
    python_side = _canonical(python_observations[path.stem])
    node_side = _canonical(node_observations[path.stem])
    assert node_side == python_side
