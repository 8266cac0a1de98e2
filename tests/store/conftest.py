"""An empty directory per test: the shared `tmp_path` also holds the isolated homes."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    path.chmod(0o700)  # as the state root makes it: a looser one would be tightened with a warning
    return path
