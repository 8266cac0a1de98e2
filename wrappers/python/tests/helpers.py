"""Test helpers: envelopes, notification lines, the scriptable fake engine, event collection."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance_replay import FAKE_ENGINE

SESSION = "sess-1"


def ok_envelope(reply: str = "done", session_id: str = SESSION) -> dict[str, Any]:
    return {
        "protocolVersion": "0.3.0",
        "sessionId": session_id,
        "turnId": "turn-1",
        "reply": reply,
        "error": None,
        "metadata": {"tokensIn": 3, "tokensOut": 1, "costUsd": "0.0001", "durationMs": 5},
    }


def notification(method: str, **params: Any) -> str:
    body = {"jsonrpc": "2.0", "method": method, "params": {"sessionId": SESSION, **params}}
    return json.dumps(body)


@dataclass
class FakeEngine:
    """Writes the fixture file the fake engine reads and reads back what it recorded."""

    directory: Path
    monkeypatch: pytest.MonkeyPatch
    binary: Path = FAKE_ENGINE
    marker: Path = field(init=False)

    def __post_init__(self) -> None:
        self.marker = self.directory / "marker.jsonl"

    def configure(self, **overrides: Any) -> Path:
        fixture: dict[str, Any] = {
            "version_json": {"version": "0.8.0", "protocolVersion": "0.3.0"},
            "stdout": ok_envelope(),
            "stderr_lines": [],
            "exit_code": 0,
            "delay_ms": 0,
            "marker_file": str(self.marker),
        }
        fixture.update(overrides)
        path = self.directory / "fixture.json"
        path.write_text(json.dumps(fixture))
        self.monkeypatch.setenv("AMPLIFIER_FAKE_ENGINE_FIXTURE", str(path))
        return path

    def records(self) -> list[dict[str, Any]]:
        if not self.marker.exists():
            return []
        return [json.loads(line) for line in self.marker.read_text().splitlines()]

    def run_record(self) -> dict[str, Any]:
        runs = [r for r in self.records() if r["argv"][:1] == ["run"]]
        assert len(runs) == 1, runs
        return runs[0]


async def collect(events: Any) -> list[dict[str, Any]]:
    return [event async for event in events]


def is_running(pid: int) -> bool:
    """Alive and not a zombie (a dead orphan waiting for init to reap it is not running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def is_reaped(pid: int) -> bool:
    """Gone from the process table entirely: no zombie left behind by its parent."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
