"""`serve status | stop | restart` (SPEC §9.2–9.4): operate on the server recorded in serve.json.

Identity is re-verified (PID and process start time) immediately before every signal, so a
reused PID is never signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import NoReturn

import click
import orjson

from amplifier_agent.cli.serve_state import (
    ServeState,
    StateFileError,
    liveness,
    read_state,
    remove_state,
)
from amplifier_agent.config.paths import WORKSPACE_RE, ensure_private_dir, layout

PREFIX = "amplifier-agent serve:"
PROBE_TIMEOUT_S = 2.0
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def load_or_exit() -> ServeState | None:
    try:
        return read_state()
    except StateFileError as error:
        click.echo(f"{PREFIX} {error}", err=True)
        sys.exit(1)


def stale_line(state: ServeState) -> str | None:
    """The §9.2 stale line (cleaning the file) when the recorded process is not ours, else None."""
    status = liveness(state)
    if status == "verified":
        return None
    remove_state()
    why = "no longer exists" if status == "dead" else "now belongs to another process"
    return f"{PREFIX} stale state file (PID {state.pid} {why}) — cleaned"


def probe_url(state: ServeState) -> str:
    host = WILDCARDS.get(state.host, state.host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{state.port}/v1/models"


def probe(state: ServeState) -> bool:
    request = urllib.request.Request(
        probe_url(state), headers={"Authorization": f"Bearer {state.api_key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@click.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
def status(as_json: bool) -> None:
    """Report whether the server runs, where, and what it serves."""
    state = load_or_exit()
    if state is None:
        _report(as_json, {"state": "not_running"}, f"{PREFIX} not running", 0)
    line = stale_line(state)
    if line is not None:
        _report(as_json, _json_state("stale", state), line, 0)
    if not probe(state):
        text = f"{PREFIX} running (PID {state.pid}) — but {state.url}/v1/models not responding"
        _report(as_json, _json_state("unresponsive", state), text, 1)
    lines = [
        f"{PREFIX} running at {state.url}  (PID {state.pid}, workspace={state.workspace})",
        f"  models: {state.models_total} total",
        "  by provider:",
        *(f"    {provider}: {count}" for provider, count in state.providers_summary.items()),
    ]
    _report(as_json, _json_state("running", state), "\n".join(lines), 0)


def _json_state(name: str, state: ServeState) -> dict[str, object]:
    return {
        "state": name,
        "pid": state.pid,
        "url": state.url,
        "workspace": state.workspace,
        "started_at": state.started_at,
        "models_total": state.models_total,
        "providers": state.providers_summary,
    }


def _report(as_json: bool, document: dict[str, object], text: str, code: int) -> NoReturn:
    click.echo(orjson.dumps(document).decode() if as_json else text)
    sys.exit(code)


def _gone(pid: int) -> bool:
    """True once the process no longer runs (a zombie awaiting its parent counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def signal_verified(state: ServeState, signum: int) -> bool:
    """Send `signum` only if the PID still is our server; False when it is gone or reused."""
    if liveness(state) != "verified":
        return False
    os.kill(state.pid, signum)
    return True


def terminate(state: ServeState, timeout: float, force: bool) -> str:
    """Stop the server: SIGTERM and wait, escalating to SIGKILL; returns the signal name used."""
    if force:
        signal_verified(state, signal.SIGKILL)
        return "SIGKILL"
    if not signal_verified(state, signal.SIGTERM):
        return "SIGTERM"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(state.pid):
            return "SIGTERM"
        time.sleep(0.1)
    click.echo(f"{PREFIX} SIGTERM timed out after {timeout:g}s, escalated to SIGKILL", err=True)
    signal_verified(state, signal.SIGKILL)
    return "SIGKILL"


@click.command(name="stop")
@click.option("--force", is_flag=True, help="SIGKILL at once instead of SIGTERM.")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Graceful window (s).")
def stop(force: bool, timeout: float) -> None:
    """Stop the running server (SIGTERM, then SIGKILL after --timeout)."""
    state = load_or_exit()
    if state is None:
        # Stopping what is already stopped succeeds: scripts can call `stop` unconditionally.
        click.echo(f"{PREFIX} not running — nothing to stop")
        return
    line = stale_line(state)
    if line is not None:
        click.echo(line)
        return
    used = terminate(state, timeout, force)
    _wait_gone(state.pid, 2.0)
    remove_state(state.instance_token)
    click.echo(f"{PREFIX} stopped ({used}, PID {state.pid})")


def _wait_gone(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


RESTART_WAIT_S = 30.0


@click.command(name="restart")
def restart() -> None:
    """Stop the server and start it again with the settings it was launched with."""
    state = load_or_exit()
    if state is None or stale_line(state) is not None:
        click.echo(f"{PREFIX} not running — nothing to restart", err=True)
        sys.exit(1)
    terminate(state, 5.0, force=False)
    _wait_gone(state.pid, 2.0)
    remove_state(state.instance_token)
    relaunch(state)
    fresh = _wait_for_new_instance(state.instance_token)
    if fresh is None:
        log_path = layout().serve_log
        click.echo(f"{PREFIX} did not come back within 30 s; see {log_path}", err=True)
        sys.exit(1)
    click.echo(f"{PREFIX} restarted at {fresh.url}/v1/  (new PID {fresh.pid})")


def relaunch_argv(state: ServeState) -> list[str]:
    """The launch settings as flags; the API key is never among them (it goes in the env)."""
    argv = [sys.executable, "-m", "amplifier_agent", "serve", "chat-completions"]
    argv += ["--bind", state.host, "--port", str(state.port), "--log-level", state.log_level]
    if WORKSPACE_RE.fullmatch(state.workspace):
        argv += ["--workspace", state.workspace]  # a derived slug comes back from the same cwd
    if state.host_config_path:
        argv += ["--config", state.host_config_path]
    if state.model_id:
        argv += ["--model-id", state.model_id]
    for host in state.allow_hosts:
        argv += ["--allow-host", host]
    for origin in state.allow_origins:
        argv += ["--allow-origin", origin]
    return argv


def relaunch(state: ServeState) -> None:
    env = dict(os.environ)
    env["AMPLIFIER_AGENT_HTTP_API_KEY"] = state.api_key
    log_path = layout().serve_log
    ensure_private_dir(log_path.parent)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        subprocess.Popen(
            relaunch_argv(state),
            cwd=state.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
        )
    finally:
        os.close(log_fd)


def _wait_for_new_instance(old_token: str) -> ServeState | None:
    deadline = time.monotonic() + RESTART_WAIT_S
    while time.monotonic() < deadline:
        try:
            fresh = read_state()
        except StateFileError:
            fresh = None
        is_new = fresh is not None and fresh.instance_token != old_token
        if fresh is not None and is_new and liveness(fresh) == "verified":
            return fresh
        time.sleep(0.1)
    return None
