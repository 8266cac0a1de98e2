"""The pure parts of the memory benchmark: which package a file or an import is charged to."""

from __future__ import annotations

import importlib
import sys
import sysconfig
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("memory_probe")


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Two throw-away packages: `memouter` imports `meminner`, which allocates about 4 MiB."""
    (tmp_path / "memouter").mkdir()
    (tmp_path / "memouter" / "__init__.py").write_text("import meminner\nSMALL = [0] * 10\n")
    (tmp_path / "meminner").mkdir()
    (tmp_path / "meminner" / "__init__.py").write_text("BIG = [object() for _ in range(250_000)]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("memouter", "meminner"):
        sys.modules.pop(name, None)


def test_files_are_charged_to_their_top_level_package(probe: ModuleType) -> None:
    stdlib = sysconfig.get_paths()["stdlib"]
    package_of = probe.package_of
    assert package_of("/venv/lib/python3.11/site-packages/openai/types/chat.py") == "openai"
    assert package_of("/venv/lib/python3.11/site-packages/six.py") == "six"
    assert package_of("/repo/src/amplifier_agent/server/app.py") == "amplifier_agent.server"
    assert package_of(f"{stdlib}/asyncio/locks.py") == "stdlib:asyncio"
    assert package_of("<frozen abc>") == "<frozen abc>"


def test_an_import_is_charged_to_itself_not_to_its_importer(
    probe: ModuleType, packages: Path
) -> None:
    charges = probe.ImportCharges()
    tracemalloc.start()
    try:
        with charges.installed():
            importlib.import_module("memouter")
    finally:
        tracemalloc.stop()
    assert charges.modules["memouter"] == 1
    assert charges.modules["meminner"] == 1
    assert charges.traced["meminner"] > 4 << 20
    assert charges.traced["memouter"] < 1 << 20


def test_the_hook_is_removed_after_the_block(probe: ModuleType, packages: Path) -> None:
    charges = probe.ImportCharges()
    with charges.installed():
        pass
    importlib.import_module("memouter")
    assert not charges.modules
