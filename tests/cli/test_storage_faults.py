"""Every command on a state root that is full or read-only: one clear `[error]` line at most,
never a Python traceback, and a credentials file that stays as it was."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from testkit import FakeUpstream, reply_text
from tests.e2e.conftest import AGENT_BIN, ROOT_MODEL
from tests.fs_faults import faulty_root

FAULTS = ["full", "read-only"]
OLD_KEY = "sk-old-key-0000"


def agent(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AGENT_BIN), *args],
        env={**os.environ, "AMPLIFIER_AGENT_HOME": str(home), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _store_a_key(home: Path) -> None:
    stored = agent(home, "auth", "set", "openai", OLD_KEY)
    assert stored.returncode == 0, stored.stderr


@pytest.mark.parametrize("fault", FAULTS)
def test_auth_set_fails_cleanly_and_keeps_the_old_file(tmp_path: Path, fault: str) -> None:
    with faulty_root(tmp_path / "home", fault, _store_a_key) as home:
        before = (home / "credentials.json").read_bytes()
        result = agent(home, "auth", "set", "anthropic", "sk-new-key-1111")
        after = (home / "credentials.json").read_bytes()
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("[error] storage_error: cannot ")
    assert "the credentials file was not changed" in lines[0]
    assert after == before
    assert "sk-new-key-1111" not in result.stderr


def _commands(config: Path) -> list[list[str]]:
    return [
        ["auth", "set", "anthropic", "sk-new-key-1111"],
        ["auth", "set", "chat-completions", "--endpoint", "http://127.0.0.1:9/v1"],
        ["auth", "list"],
        ["auth", "status"],
        ["auth", "remove", "openai"],
        ["config", "show"],
        ["config", "show", "--config", str(config)],
        ["doctor", "--quick"],
        ["doctor", "--config", str(config)],
        ["models", "list", "--provider", "anthropic", "--output", "json"],
        ["models", "list", "--output", "json", "--timeout", "5"],
        ["run", "-y", "--config", str(config), "--session-id", "s1", "Hi?"],
        ["run", "-y", "--config", str(config), "--output", "json", "Hi?"],
        ["serve", "chat-completions", "--port", "0", "--config", str(config)],
        ["serve", "status"],
        ["serve", "status", "--json"],
        ["serve", "stop"],
        ["serve", "restart"],
        ["version"],
        ["version", "--json"],
        ["auth", "clear", "--force"],
    ]


@pytest.mark.parametrize("fault", FAULTS)
def test_no_command_shows_a_traceback(
    tmp_path: Path, fault: str, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.set_default(reply_text("pong"))
    config = tmp_path / "host_config.json"
    config.write_text(
        json.dumps({"provider": {"module": "anthropic", "config": {"default_model": ROOT_MODEL}}})
    )
    env = {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": fake_upstream.url}
    with faulty_root(tmp_path / "home", fault, _store_a_key) as home:
        for argv in _commands(config):
            result = agent(home, *argv, env=env)
            output = result.stdout + result.stderr
            assert "Traceback" not in output, f"{argv}:\n{output}"
            if result.returncode != 0:  # a failure always says why
                assert output.strip(), f"{argv}: exit {result.returncode} without a word"
