"""The README's main job: `make demo`'s commands run a real turn on the embedded local model."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.e2e.server_harness import engine_binary

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.local_model


def demo_commands() -> list[list[str]]:
    """The recipe lines of the Makefile's `demo` target, with `$(BIN)/` resolved."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None
    lines = [line.strip() for line in recipe.group(1).splitlines()]
    return [shlex.split(line.replace("$(BIN)/amplifier-agent", engine_binary())) for line in lines]


def keyless_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "API_KEY" not in k and "BASE_URL" not in k}
    env.update(AMPLIFIER_AGENT_HOME=str(tmp_path / "home"), HOME=str(tmp_path))
    return env


def test_demo_lists_the_local_model_and_runs_a_real_turn(tmp_path: Path) -> None:
    listing, turn = demo_commands()
    assert listing[1:3] == ["models", "list"]
    listed = subprocess.run(
        listing, cwd=ROOT, env=keyless_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    assert "smollm2-135m-instruct" in listed.stdout
    assert turn[1] == "run"
    ran = subprocess.run(
        turn,
        cwd=ROOT,
        env=keyless_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip(), "the local model produced no reply"
    usage = re.search(r"\[usage\] in=(\d+) out=(\d+) cost=\$0 .*provider=local", ran.stderr)
    assert usage is not None, ran.stderr
    assert int(usage.group(1)) > 0 and int(usage.group(2)) > 0
