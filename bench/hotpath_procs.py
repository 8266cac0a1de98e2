"""The processes of `http_hot_path.py`: core placement, the fake upstream, the server under test,
the pinned load-client jobs, and what /proc says about the server (CPU time, RSS).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BANNER = re.compile(r"listening on http://([\d.]+):(\d+)")
SERVER_KEY = "bench-key-0123456789"
UPSTREAM_KEY = "sk-bench"


class SetupError(Exception):
    """A process of the benchmark would not start or died; the message says which and why."""


# -- where each process runs --------------------------------------------------------------------
@dataclass(frozen=True)
class Placement:
    """CPU cores per role; None means unpinned (one core, or no `taskset`)."""

    server: int | None
    fake: int | None
    client: int | None

    @classmethod
    def plan(cls) -> Placement:
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) < 2 or shutil.which("taskset") is None:
            return cls(None, None, None)
        return cls(cores[0], cores[1], cores[2] if len(cores) > 2 else cores[1])

    def pin(self, argv: list[str], core: int | None) -> list[str]:
        return argv if core is None else ["taskset", "-c", str(core), *argv]

    def to_json(self) -> dict[str, Any]:
        return {"server_core": self.server, "fake_core": self.fake, "client_core": self.client}


# -- the fake upstream --------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    token: str
    pid: int

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "token": self.token}


@contextmanager
def fake_upstream(placement: Placement) -> Iterator[Endpoint]:
    """`python -m testkit` as its own process, scripted later with `script_fake`."""
    argv = placement.pin([sys.executable, "-m", "testkit"], placement.fake)
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SetupError(f"the fake upstream did not start (exit {process.wait()})")
        host, port = json.loads(line)["url"].removeprefix("http://").split(":")
        yield Endpoint(host, int(port), UPSTREAM_KEY, process.pid)
    finally:
        stop(process)


def script_fake(fake: Endpoint, reply: dict[str, Any]) -> None:
    """Forget what the fake recorded (its memory would grow with every request) and make
    `reply` its answer to every call."""
    for path, body in (("/_fake/reset", {}), ("/_fake/script", {"default": reply})):
        request = urllib.request.Request(
            f"http://{fake.host}:{fake.port}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


# -- the server under test ----------------------------------------------------------------------
@dataclass
class Server:
    endpoint: Endpoint
    process: subprocess.Popen[str]
    argv: list[str]

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise SetupError(f"the server exited (code {self.process.returncode})")


def server_command(server_python: str | None, server_cmd: list[str] | None) -> list[str]:
    """How to run the CLI: a command given as is, another interpreter's package, or ours."""
    if server_cmd:
        return server_cmd
    if server_python:
        return [server_python, "-m", "amplifier_agent"]
    return [str(Path(sys.executable).with_name("amplifier-agent"))]


def checkout_commit(command: list[str]) -> str | None:
    """The git commit of the checkout the server command lives in (a venv inside a checkout),
    or None when that cannot be told."""
    folder = Path(shutil.which(command[0]) or command[0]).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except OSError:
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


@contextmanager
def agent_server(
    command: list[str],
    fake: Endpoint,
    placement: Placement,
    home: Path,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`serve chat-completions` with an `openai` provider pointed at the fake, in a temp home
    (`extra_env` adds variables, a store URL for example)."""
    config = home / "host_config.json"
    config.write_text(json.dumps({"providers": {"openai": {}}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMPLIFIER_", "OPENAI_"))}
    env.update(
        AMPLIFIER_AGENT_HOME=str(home / "state-root"),
        HOME=str(home),
        OPENAI_API_KEY=UPSTREAM_KEY,
        OPENAI_BASE_URL=f"http://{fake.host}:{fake.port}/v1",
    )
    env.update(extra_env or {})
    argv = [*command, "serve", "chat-completions", "--port", "0", "--api-key", SERVER_KEY]
    argv += ["--config", str(config), "--log-level", "warning", "--workspace", "bench"]
    pinned = placement.pin(argv, placement.server)
    process = subprocess.Popen(pinned, cwd=home, env=env, stderr=subprocess.PIPE, text=True)
    try:
        host, port = _await_banner(process)
        server = Server(Endpoint(host, port, SERVER_KEY, process.pid), process, argv)
        _await_health(server)
        yield server
    finally:
        stop(process)


def _await_banner(process: subprocess.Popen[str]) -> tuple[str, int]:
    assert process.stderr is not None
    seen: list[str] = []
    for line in process.stderr:
        match = BANNER.search(line)
        if match:
            # Keep draining stderr so the server never blocks on a full pipe.
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return match.group(1), int(match.group(2))
        seen.append(line)
    tail = "".join(seen[-10:]).strip()
    raise SetupError(f"the server did not start (exit {process.wait()}): {tail}")


def _await_health(server: Server) -> None:
    url = f"http://{server.endpoint.host}:{server.endpoint.port}/healthz"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SetupError("the server never answered GET /healthz")


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- load-client jobs ---------------------------------------------------------------------------
class JobError(Exception):
    """A load-client job failed; the message carries its stderr."""


def job_spec(kind: str, fake: Endpoint, server: Server, **fields: Any) -> dict[str, Any]:
    """A job for `hotpath_jobs.py`: both targets, the server's pid, and the job's own fields."""
    targets = {"direct": fake.to_json(), "server": server.endpoint.to_json()}
    return {"kind": kind, "targets": targets, "pid": server.endpoint.pid, **fields}


def start_job(job: dict[str, Any], placement: Placement) -> subprocess.Popen[str]:
    """Start one job of `hotpath_jobs.py` in a pinned process; `finish_job` collects it."""
    argv = [sys.executable, str(BENCH / "hotpath_jobs.py"), json.dumps(job)]
    return subprocess.Popen(
        placement.pin(argv, placement.client),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_job(process: subprocess.Popen[str], kind: str, timeout_s: float) -> dict[str, Any]:
    """The JSON result of a started job; kills it if it outlives `timeout_s`."""
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop(process)
        raise JobError(f"{kind} did not finish within {timeout_s:.0f} s") from None
    if process.returncode != 0:
        raise JobError(err.strip().splitlines()[-1] if err.strip() else f"{kind} failed")
    result: dict[str, Any] = json.loads(out)
    return result


def run_job(job: dict[str, Any], placement: Placement, timeout_s: float) -> dict[str, Any]:
    """Run one job of `hotpath_jobs.py` in a pinned process and return its JSON result."""
    return finish_job(start_job(job, placement), job["kind"], timeout_s)


# -- /proc ----------------------------------------------------------------------------------------
def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (the peak so far) of a process, in MiB."""
    status = _status(pid)
    return {key: round(int(status[key].split()[0]) / 1024, 1) for key in ("VmRSS", "VmHWM")}


def preemptions(pid: int) -> int:
    """How often the scheduler has taken the CPU away from a running process: other work on its
    core, the main source of noise in these figures."""
    return int(_status(pid)["nonvoluntary_ctxt_switches"])


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as handle:
        return dict(line.split(":", 1) for line in handle if ":" in line)


class RssSampler:
    """Samples a process's VmRSS every `interval_s` on a thread; `peak_mib` is the largest seen."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self._pid, self._interval = pid, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_mib = 0.0

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.peak_mib = max(self.peak_mib, memory_mib(self._pid)["VmRSS"])
            except (OSError, KeyError):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
