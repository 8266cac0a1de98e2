"""The running server's state: `state/serve.json` (SPEC §9.1) and the `serve.lock` flock.

A PID alone is not an identity (PIDs are reused), so every state carries the process start time
and a per-instance token; a PID is *verified* only when both the process exists and its start
time matches.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from amplifier_agent.config.paths import ensure_private_dir, layout
from amplifier_agent.config.secret_files import read_secret_json, write_secret_json
from amplifier_agent.core.errors import ConfigError, storage_error

SCHEMA_VERSION = 1
Liveness = Literal["verified", "dead", "reused"]


@dataclass(frozen=True, slots=True)
class ServeState:
    schema_version: int
    pid: int
    process_start_time: str
    instance_token: str
    started_at: str
    host: str
    port: int
    api_key: str
    api_key_generated: bool
    workspace: str
    cwd: str
    host_config_path: str | None
    model_id: str | None
    log_level: str
    allow_hosts: list[str]
    allow_origins: list[str]
    providers_summary: dict[str, int]
    models_total: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class StateFileError(Exception):
    """`serve.json` is corrupt or of an unknown schema; the message names the path."""


def state_path() -> Path:
    return layout().serve_json


def process_start_time(pid: int) -> str | None:
    """Field 22 of `/proc/<pid>/stat` (Linux) or `ps -o lstart=` (macOS); None if gone."""
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        # The command name (field 2) may contain spaces and parentheses: split after its end.
        return stat[stat.rindex(")") + 2 :].split()[19]
    result = subprocess.run(
        ["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or None


def liveness(state: ServeState) -> Liveness:
    try:
        os.kill(state.pid, 0)
    except ProcessLookupError:
        return "dead"
    except PermissionError:
        pass
    started = process_start_time(state.pid)
    if started is None:
        return "dead"
    return "verified" if started == state.process_start_time else "reused"


def read_state(path: Path | None = None) -> ServeState | None:
    path = path or state_path()
    try:
        document = read_secret_json(path, corrupt_code="serve_state_corrupt")
    except ConfigError as error:
        raise StateFileError(_corrupt_message(path, error.message)) from error
    if document is None:
        return None
    if document.get("schema_version") != SCHEMA_VERSION:
        raise StateFileError(
            _corrupt_message(path, f"unknown schema_version {document.get('schema_version')!r}")
        )
    try:
        return ServeState(**{name: document[name] for name in ServeState.__dataclass_fields__})
    except (KeyError, TypeError) as exc:
        raise StateFileError(_corrupt_message(path, f"missing or bad field {exc}")) from exc


def _corrupt_message(path: Path, problem: str) -> str:
    return f"{path}: {problem}; delete the file if no server is running"


def write_state(state: ServeState) -> None:
    """Record the running server; a failure (full disk, read-only state root) is a
    `StorageError`."""
    path = state_path()
    try:
        ensure_private_dir(path.parent)
        write_secret_json(path, state.to_json())
    except OSError as exc:
        raise storage_error("write", path, exc) from exc


def remove_state(expected_token: str | None = None) -> bool:
    """Remove `serve.json` (only if it still holds `expected_token`, when given)."""
    path = state_path()
    if expected_token is not None:
        try:
            current = read_state(path)
        except StateFileError:
            return False
        if current is None or current.instance_token != expected_token:
            return False
    try:
        path.unlink()
    except OSError:  # already gone, or a read-only state root: nothing more to clean up
        return False
    return True


class ServeLock:
    """`state/serve.lock`, held (flock) for the life of a server so two cannot share the state."""

    def __init__(self) -> None:
        self._fd: int | None = None

    def acquire(self) -> bool:
        """True once held; False when another server holds it. A lock file that cannot be
        created is a `StorageError`."""
        path = layout().serve_lock
        try:
            ensure_private_dir(path.parent)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise storage_error("create", path, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
