"""Fixtures for tool tests: a workspace directory and a context rooted in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from amplifier_agent.tools import ToolContext


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def ctx(workspace: Path) -> ToolContext:
    return ToolContext(cwd=workspace)
