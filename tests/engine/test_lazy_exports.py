"""`amplifier_agent.engine` resolves its exports on first use: each name is the object of the
module that defines it, and an unknown name is an AttributeError like any module's."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import amplifier_agent.engine as engine


@pytest.mark.parametrize("name", engine.__all__)
def test_every_export_is_the_defining_modules_object(name: str) -> None:
    value = getattr(engine, name)

    defining_module = importlib.import_module(engine._EXPORTS[name])
    assert getattr(defining_module, name) is value
    assert name in dir(engine)


def test_the_export_table_and_all_agree() -> None:
    assert sorted(engine._EXPORTS) == sorted(engine.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'no_such_export'"):
        _ = engine.no_such_export  # type: ignore[attr-defined]


def test_importing_the_package_imports_no_export_module() -> None:
    probe = (
        "import sys, amplifier_agent.engine;"
        "print(sorted(m for m in sys.modules if m.startswith('amplifier_agent.engine.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "[]"
