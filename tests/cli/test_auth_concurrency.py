"""Concurrent writers of credentials.json: every read-modify-write happens under the credentials
lock, so writers started together all keep their entries (no last-writer-wins loss)."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.e2e.conftest import AGENT_BIN, wait_for

WRITERS = 20
#: Holds a shared lock on the barrier (so it waits while the test holds it exclusively), then
#: becomes the command: every writer is released at the same moment.
_BARRIER_THEN_EXEC = """
import fcntl, os, pathlib, sys
barrier, ready, *argv = sys.argv[1:]
fd = os.open(barrier, os.O_RDONLY)
pathlib.Path(ready).touch()
fcntl.flock(fd, fcntl.LOCK_SH)
os.execv(argv[0], argv)
"""
#: The same read-modify-write `auth set` does, for a provider id the CLI would refuse, so twenty
#: writers can each own a distinct entry.
_LIBRARY_WRITER = """
import sys
from pathlib import Path
from amplifier_agent.config.credentials_file import (
    credentials_locked, load_credentials, save_credentials, with_credential,
)
path, provider = Path(sys.argv[1]), sys.argv[2]
with credentials_locked(path):
    save_credentials(path, with_credential(load_credentials(path), provider, value=provider))
"""


def released_together(tmp_path: Path, commands: Sequence[Sequence[str]]) -> list[int]:
    """Start every command behind one barrier, release them at once, return their exit codes."""
    barrier = tmp_path / "barrier"
    barrier.touch()
    ready = tmp_path / "ready"
    ready.mkdir()
    holder = os.open(barrier, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _BARRIER_THEN_EXEC, str(barrier), str(ready / str(n)), *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n, argv in enumerate(commands)
    ]
    try:
        wait_for(lambda: len(list(ready.iterdir())) == len(commands), timeout=60)
    finally:
        os.close(holder)  # releases the barrier
    codes = []
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert b"Traceback" not in err, err.decode()
        codes.append(process.returncode)
    return codes


def test_twenty_library_writers_keep_every_entry(tmp_path: Path, isolated_home: Path) -> None:
    creds = isolated_home / "credentials.json"
    writers = [
        [sys.executable, "-c", _LIBRARY_WRITER, str(creds), f"provider-{n}"] for n in range(WRITERS)
    ]
    assert released_together(tmp_path, writers) == [0] * WRITERS
    providers = json.loads(creds.read_text())["providers"]
    assert sorted(providers) == sorted(f"provider-{n}" for n in range(WRITERS))
    lock = isolated_home / "credentials.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert stat.S_IMODE(isolated_home.stat().st_mode) == 0o700


def test_concurrent_auth_set_for_every_provider_keeps_them_all(
    tmp_path: Path, isolated_home: Path
) -> None:
    providers = ["anthropic", "azure-openai", "chat-completions", "ollama", "openai"]
    commands = [
        [str(AGENT_BIN), "auth", "set", providers[n % len(providers)], f"value-{n}"]
        for n in range(WRITERS)
    ]
    assert released_together(tmp_path, commands) == [0] * WRITERS
    stored = json.loads((isolated_home / "credentials.json").read_text())["providers"]
    assert sorted(stored) == providers
