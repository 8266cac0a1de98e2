"""`--version`, `version` and `version --json` (SPEC §7.1, §7.5), and the lean `--version` path."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import amplifier_agent

CONSOLE_SCRIPT = Path(sys.executable).with_name("amplifier-agent")

#: Heavy imports `--version` must never pay for (SPEC §7.1: no SDK before argument parsing).
HEAVY_MODULES = ("anthropic", "openai", "httpx2", "click", "llama_cpp")


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def console_script() -> str:
    if not CONSOLE_SCRIPT.exists():
        pytest.fail(f"the console script is not installed next to {sys.executable}")
    return str(CONSOLE_SCRIPT)


def test_one_version_everywhere() -> None:
    assert amplifier_agent.__version__ == "0.8.0"
    assert amplifier_agent.PROTOCOL_VERSION == "0.3.0"
    assert metadata.version("amplifier-agent") == amplifier_agent.__version__


@pytest.mark.parametrize("launcher", ["script", "module"])
def test_dash_dash_version(launcher: str) -> None:
    prefix = (
        [console_script()] if launcher == "script" else [sys.executable, "-m", "amplifier_agent"]
    )
    result = run(*prefix, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "amplifier-agent 0.8.0\n"
    assert result.stderr == ""


def test_version_command() -> None:
    result = run(console_script(), "version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "amplifier-agent 0.8.0 (wire 0.3.0)\n"


def test_version_json_is_exact() -> None:
    result = run(console_script(), "version", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stdout == '{"version":"0.8.0","protocolVersion":"0.3.0"}\n'
    assert json.loads(result.stdout) == {"version": "0.8.0", "protocolVersion": "0.3.0"}


def test_version_rejects_unknown_options() -> None:
    result = run(console_script(), "version", "--yaml")
    assert result.returncode == 2
    assert result.stdout == ""


def imported_modules(*argv: str) -> set[str]:
    """Top-level packages a `python -X importtime` run of the CLI imported."""
    result = run(sys.executable, "-X", "importtime", "-m", "amplifier_agent", *argv)
    assert result.returncode == 0, result.stderr
    names: set[str] = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name.split(".")[0])
    return names


def test_dash_dash_version_imports_no_heavy_module() -> None:
    imported = imported_modules("--version")
    assert "amplifier_agent" in imported  # the probe really saw our imports
    assert imported.isdisjoint(HEAVY_MODULES), sorted(imported & set(HEAVY_MODULES))


def test_the_import_probe_detects_click() -> None:
    # The same probe on a command that needs click must see it, or the test above proves nothing.
    assert "click" in imported_modules("version")
