"""One opencode turn against our server and the fake upstream, all three in this process's network
namespace; prints a JSON summary. The opencode tests start it inside `unshare --net`:

    python -m tests.e2e.node.opencode_driver SPEC.json

SPEC: `opencode` (binary), `workdir` (project dir: opencode's and our server's cwd), `home`
(isolated HOME/XDG root), `model` (the id opencode asks our server for), `prompt`, `replies`
(`Reply.to_json()` list for the fake), `timeout_s`, `loopback_up` (bring `lo` up first).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit import FakeUpstream, Reply
from tests.e2e.server_harness import RunningServer, running_server, server_env, write_config

PROVIDER_ID = "amplifier"
SERVER_CONFIG = {"providers": {"anthropic": {}}}
STDERR_TAIL = 6000


@dataclass(frozen=True)
class DriverSpec:
    opencode: str
    workdir: Path
    home: Path
    model: str
    prompt: str
    replies: list[dict[str, Any]]
    timeout_s: float
    loopback_up: bool

    @classmethod
    def load(cls, path: Path) -> DriverSpec:
        data = json.loads(path.read_text("utf-8"))
        return cls(
            opencode=data["opencode"],
            workdir=Path(data["workdir"]),
            home=Path(data["home"]),
            model=data["model"],
            prompt=data["prompt"],
            replies=list(data.get("replies", [])),
            timeout_s=float(data.get("timeout_s", 120)),
            loopback_up=bool(data.get("loopback_up", True)),
        )


def opencode_config(base_url: str, api_key: str, model: str) -> dict[str, Any]:
    """A provider served by our HTTP face through the bundled OpenAI-compatible AI SDK package."""
    return {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            PROVIDER_ID: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "amplifier-agent",
                "options": {"baseURL": base_url, "apiKey": api_key},
                "models": {model: {"name": model}},
            }
        },
        "model": f"{PROVIDER_ID}/{model}",
        "small_model": f"{PROVIDER_ID}/{model}",
        "autoupdate": False,
        "share": "disabled",
    }


def opencode_env(spec: DriverSpec, config: dict[str, Any]) -> dict[str, str]:
    """Only what opencode needs: no inherited provider keys, every per-user dir under `home`."""
    home = spec.home
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_CONFIG_CONTENT": json.dumps(config),
    }


def run_opencode(spec: DriverSpec, env: dict[str, str]) -> dict[str, Any]:
    """`opencode run --format json` with the prompt on stdin (argv prompts get quoted), killed as
    a whole process group when it outlives `timeout_s`."""
    process = subprocess.Popen(
        [spec.opencode, "run", "--format", "json"],
        cwd=spec.workdir,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    started = time.monotonic()
    timed_out = False
    try:
        stdout, stderr = process.communicate(spec.prompt, timeout=spec.timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    events, other = _json_lines(stdout)
    return {
        "returncode": process.returncode,
        "timed_out": timed_out,
        "duration_s": round(time.monotonic() - started, 3),
        "events": events,
        "stdout_other": other,
        "stderr_tail": stderr[-STDERR_TAIL:],
    }


def _json_lines(text: str) -> tuple[list[Any], list[str]]:
    parsed, other = [], []
    for line in text.splitlines():
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            if line.strip():
                other.append(line)
    return parsed, other


def opencode_version(binary: str, env: dict[str, str]) -> str:
    completed = subprocess.run(
        [binary, "--version"], env=env, capture_output=True, text=True, timeout=60
    )
    return completed.stdout.strip()


def session_store(state_root: Path) -> list[dict[str, Any]]:
    """Every session our server stored: directory name, transcript lines and metadata."""
    found = []
    for directory in sorted(state_root.glob("state/workspaces/*/sessions/*")):
        transcript = directory / "transcript.jsonl"
        metadata = directory / "metadata.json"
        lines = transcript.read_text("utf-8").splitlines() if transcript.exists() else []
        found.append(
            {
                "name": directory.name,
                "transcript": [json.loads(line) for line in lines if line.strip()],
                "metadata": json.loads(metadata.read_text("utf-8")) if metadata.exists() else None,
            }
        )
    return found


@dataclass
class Served:
    """Our server on loopback with the scripted fake upstream behind it."""

    server: RunningServer
    fake: FakeUpstream
    state_root: Path

    def report(self) -> dict[str, Any]:
        """What the fake received, our session store and our log (call after the server)."""
        return {
            "interfaces": network_interfaces(),
            "upstream_requests": [r.to_json() for r in self.fake.requests],
            "sessions": session_store(self.state_root),
            "ledger": usage_ledger(self.state_root),
            "server_stderr": self.server.stderr_text()[-STDERR_TAIL:],
        }


@contextmanager
def served(home: Path, workdir: Path, replies: list[dict[str, Any]]) -> Iterator[Served]:
    home.mkdir(parents=True, exist_ok=True)
    with FakeUpstream() as fake:
        fake.enqueue(*(Reply.from_json(r) for r in replies))
        env = server_env(home, {"ANTHROPIC_API_KEY": "sk-ant-fake", "ANTHROPIC_BASE_URL": fake.url})
        config = write_config(home / "host_config.json", SERVER_CONFIG)
        with running_server(config, env, cwd=workdir, args=("--log-level", "info")) as server:
            yield Served(server, fake, Path(env["AMPLIFIER_AGENT_HOME"]))


def usage_ledger(state_root: Path) -> list[dict[str, Any]]:
    ledger = state_root / "state" / "usage.jsonl"
    lines = ledger.read_text("utf-8").splitlines() if ledger.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def drive(spec: DriverSpec) -> dict[str, Any]:
    with served(spec.home, spec.workdir, spec.replies) as running:
        outcome = _opencode_against(spec, running.server)
    return {**outcome, **running.report()}


def _opencode_against(spec: DriverSpec, server: RunningServer) -> dict[str, Any]:
    config = opencode_config(server.base_url, server.api_key, spec.model)
    env = opencode_env(spec, config)
    return {
        "opencode_version": opencode_version(spec.opencode, env),
        "server_url": server.url,
        "opencode": run_opencode(spec, env),
    }


def network_interfaces() -> list[str]:
    """Interface names of this network namespace (netlink, unlike a /sys mounted elsewhere)."""
    listing = subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=10, check=True
    )
    return sorted(line.split(":")[1].strip().split("@")[0] for line in listing.stdout.splitlines())


def bring_up_loopback() -> None:
    """A fresh network namespace has `lo` down: nothing, not even 127.0.0.1, is reachable."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)


def main(argv: list[str]) -> int:
    spec = DriverSpec.load(Path(argv[1]))
    if spec.loopback_up:
        bring_up_loopback()
    summary = drive(spec)
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
