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
    STDIO_FIXTURE_DIR,
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


STDIO_REQUIRED = {
    "stdio-turns",
    "stdio-turn-error",
    "stdio-engine-killed-then-restarted",
    "stdio-initialize-error",
}
PROCESS_KEYS = ("version_json", "stdout", "stderr_lines", "exit_code", "delay_ms", "expected")
STDIO_KEYS = ("version_json", "stdio", "prompts", "options", "expected")


def test_required_fixtures_exist_with_their_keys() -> None:
    names = {path.stem for path in FIXTURES}
    assert names >= REQUIRED | STDIO_REQUIRED
    for path in FIXTURES:
        fixture = json.loads(path.read_text())
        assert fixture["name"] == path.stem
        stdio = path.parent == STDIO_FIXTURE_DIR
        for key in STDIO_KEYS if stdio else PROCESS_KEYS:
            assert key in fixture, (path.name, key)
        assert (fixture["options"].get("lifecycle") == "persistent") is stdio, path.name


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


#: Minted or measured by the wrapper on every run (a persistent turn's metadata is the SDK's).
_VOLATILE_METADATA = ("correlationId", "durationMs")


def _canonical(observation: dict[str, Any]) -> dict[str, Any]:
    """Everything but the per-run correlation ids and durations that the wrapper makes itself."""

    def strip(record: dict[str, Any] | None) -> dict[str, Any] | None:
        if record is None:
            return None
        kept = {k: v for k, v in record.items() if k != "correlationId"}
        if isinstance(kept.get("metadata"), dict) and record.get("type") == "result":
            metadata = kept["metadata"]
            kept["metadata"] = {k: v for k, v in metadata.items() if k not in _VOLATILE_METADATA}
        return kept

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
