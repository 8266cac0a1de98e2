"""`--help` of every command answers without loading the engine or any provider SDK: help is
read interactively and must come back at once (checked by imports, never by the clock)."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Provider SDKs, the server stack and what only a turn needs (the engine, its HTTP client and
#: the validation library its tools use).
HEAVY = frozenset(
    {
        "anthropic",
        "openai",
        "genai_prices",
        "mcp",
        "starlette",
        "uvicorn",
        "httpx2",
        "pydantic",
        "amplifier_agent.engine",
    }
)


def imported_by(*args: str) -> tuple[set[str], str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "amplifier_agent", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    modules = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if "|" in line}
    return modules, result.stdout


@pytest.mark.parametrize(
    ("args", "module", "shown"),
    [
        (("run", "--help"), "amplifier_agent.cli.run", "--session-id"),
        (("serve", "chat-completions", "--help"), "amplifier_agent.cli.serve", "--api-key"),
        (("serve", "--help"), "amplifier_agent.cli.serve", "chat-completions"),
        (("serve", "stdio", "--help"), "amplifier_agent.cli.serve_stdio", "--workspace"),
        (("doctor", "--help"), "amplifier_agent.cli.doctor", "--config"),
        (("auth", "--help"), "amplifier_agent.cli.auth", "set"),
    ],
)
def test_help_imports_no_engine_or_sdk(args: tuple[str, ...], module: str, shown: str) -> None:
    imported, stdout = imported_by(*args)
    assert shown in stdout
    assert module in imported  # the command really was loaded
    assert imported.isdisjoint(HEAVY), sorted(imported & HEAVY)
