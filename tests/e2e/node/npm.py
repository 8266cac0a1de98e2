"""Installs this folder's pinned npm packages once (`npm ci`) and runs its Node scripts."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent
SCRIPTS_DIR = NODE_DIR / "scripts"
NPM_CI_TIMEOUT_S = 600.0
SCRIPT_TIMEOUT_S = 90.0
#: Written after a successful `npm ci`; holds the digest of the lockfile it installed.
STAMP = NODE_DIR / "node_modules" / ".e2e-installed"


class NodeClientError(RuntimeError):
    """npm or a Node script failed; the message carries its output."""


def pinned_version(package: str) -> str:
    """The exact version `package.json` pins for `package`."""
    manifest = json.loads((NODE_DIR / "package.json").read_text("utf-8"))
    version = manifest["dependencies"][package]
    assert isinstance(version, str)
    return version


def _lock_digest() -> str:
    return hashlib.sha256((NODE_DIR / "package-lock.json").read_bytes()).hexdigest()


def ensure_installed() -> Path:
    """`npm ci` into this folder unless the current lockfile is already installed.

    A file lock serialises concurrent test processes: `npm ci` deletes `node_modules` first, so
    a second install must never run while another process uses the packages.
    """
    with open(NODE_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        digest = _lock_digest()
        if not (STAMP.exists() and STAMP.read_text() == digest):
            _npm_ci()
            STAMP.write_text(digest)
    return NODE_DIR / "node_modules"


def _npm_ci() -> None:
    completed = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=NPM_CI_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    if completed.returncode != 0:
        raise NodeClientError(
            f"npm ci failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )


def run_script(
    name: str, env: Mapping[str, str], timeout: float = SCRIPT_TIMEOUT_S
) -> dict[str, Any]:
    """Run `scripts/<name>` with `node` and return the JSON document it printed."""
    completed = subprocess.run(
        ["node", str(SCRIPTS_DIR / name)],
        cwd=NODE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if completed.returncode != 0:
        raise NodeClientError(
            f"node {name} exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}"
        )
    result = json.loads(completed.stdout)
    assert isinstance(result, dict), completed.stdout
    return result
