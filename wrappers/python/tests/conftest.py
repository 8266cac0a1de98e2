"""Shared fixtures: an isolated environment per test and the scriptable fake engine."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance_replay import FAKE_ENGINE
from helpers import FakeEngine


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the real home, a real engine, or another test's fixture file."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AMPLIFIER_AGENT_HOME", str(home / ".amplifier-agent"))
    monkeypatch.setenv("AMPLIFIER_AGENT_BIN", str(FAKE_ENGINE))
    monkeypatch.setenv("AMPLIFIER_FAKE_ENGINE_FIXTURE", str(tmp_path / "unset.json"))
    monkeypatch.setenv("AMPLIFIER_FAKE_ENGINE_PYTHON", sys.executable)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    os.makedirs(tmp_path / "runtime", mode=0o700)
    yield


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    engine = FakeEngine(tmp_path, monkeypatch)
    engine.configure()
    return engine
