"""`serve status | stop | restart` against real server processes and hand-made state files."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from amplifier_agent.cli.serve_state import process_start_time
from testkit import FakeUpstream, reply_text
from tests.e2e.server_harness import engine_binary, running_server, server_env, write_config

PREFIX = "amplifier-agent serve:"


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [engine_binary(), "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path, fake_upstream: FakeUpstream) -> dict[str, str]:
    return server_env(
        tmp_path, {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": fake_upstream.url}
    )


def state_file(env: dict[str, str]) -> Path:
    return Path(env["AMPLIFIER_AGENT_HOME"]) / "state" / "serve.json"


def argv_of_all_processes() -> list[str]:
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return lines


def test_status_restart_stop_round_trip(
    tmp_path: Path, env: dict[str, str], fake_upstream: FakeUpstream
) -> None:
    config = write_config(tmp_path / "cfg.json", {"providers": {"anthropic": {}}})
    fake_upstream.set_default(reply_text("pong"))
    # A key of its own: other checkouts' servers on this machine must not match the argv scan.
    key = "sk-test-lifecycle-" + secrets.token_hex(8)
    with running_server(config, env, cwd=tmp_path, key_in_env=True, api_key=key) as server:
        assert not any(server.api_key in line for line in argv_of_all_processes())
        status = cli(env, "status")
        assert status.returncode == 0, status.stderr
        # One URL form everywhere: the banner's, the status line's and the JSON status's.
        assert status.stdout.startswith(f"{PREFIX} running at {server.url}  (PID ")
        assert json.loads(cli(env, "status", "--json").stdout)["url"] == server.url
        assert "  models: 4 total\n  by provider:\n    anthropic: 4" in status.stdout
        old = json.loads(state_file(env).read_text())
        assert oct(state_file(env).stat().st_mode & 0o777) == "0o600"
        assert oct(state_file(env).parent.stat().st_mode & 0o777) == "0o700"

        restarted = cli(env, "restart")
        assert restarted.returncode == 0, restarted.stderr
        new = json.loads(state_file(env).read_text())
        assert new["pid"] != old["pid"] and new["port"] == old["port"]
        assert new["api_key"] == old["api_key"] == server.api_key
        assert f"(new PID {new['pid']})" in restarted.stdout
        assert not any(server.api_key in line for line in argv_of_all_processes())
        client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
        reply = client.chat.completions.create(
            model="claude-haiku-4-5-20251001",
            messages=[{"role": "user", "content": "ping"}],
            stream=False,
        )
        assert reply.choices[0].message.content == "pong"

        assert server.api_key not in status.stdout + status.stderr + restarted.stdout
        stopped = cli(env, "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.strip() == f"{PREFIX} stopped (SIGTERM, PID {new['pid']})"
    assert cli(env, "status").stdout.strip() == f"{PREFIX} not running"
    assert not state_file(env).exists()


def _fake_state(env: dict[str, str], pid: int, start_time: str) -> Path:
    path = state_file(env)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    document = {
        "schema_version": 1,
        "pid": pid,
        "process_start_time": start_time,
        "instance_token": "t" * 32,
        "started_at": "2026-01-01T00:00:00.000Z",
        "host": "127.0.0.1",
        "port": 9,
        "api_key": "aak_secret",
        "api_key_generated": True,
        "workspace": "ws",
        "cwd": "/",
        "host_config_path": None,
        "model_id": None,
        "log_level": "info",
        "allow_hosts": [],
        "allow_origins": [],
        "providers_summary": {"anthropic": 1},
        "models_total": 1,
    }
    path.write_text(json.dumps(document))
    path.chmod(0o600)
    return path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_state_with_dead_pid_is_cleaned(env: dict[str, str]) -> None:
    pid = _dead_pid()
    path = _fake_state(env, pid, "1")
    result = cli(env, "status")
    assert result.returncode == 0
    assert result.stdout.strip() == (
        f"{PREFIX} stale state file (PID {pid} no longer exists) — cleaned"
    )
    assert not path.exists()


@pytest.mark.parametrize("command", ["status", "stop", "restart"])
def test_reused_pid_is_never_signalled(env: dict[str, str], command: str) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        path = _fake_state(env, bystander.pid, "not-its-start-time")
        result = cli(env, command)
        stale = f"{PREFIX} stale state file (PID {bystander.pid} now belongs to another process)"
        if command == "restart":
            assert result.returncode == 1
            assert f"{PREFIX} not running — nothing to restart" in result.stderr
        else:
            assert result.returncode == 0
            assert result.stdout.strip() == stale + " — cleaned"
        assert not path.exists()
        assert bystander.poll() is None, "an unrelated process was signalled"
    finally:
        bystander.kill()
        bystander.wait()


def _stubborn_process() -> subprocess.Popen[bytes]:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"
    process = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait until the handler is installed
        status = Path(f"/proc/{process.pid}/status").read_text()
        mask = next(line for line in status.splitlines() if line.startswith("SigIgn"))
        ignored = int(mask.split()[1], 16)
        if ignored & (1 << (signal.SIGTERM - 1)):
            return process
        time.sleep(0.02)
    raise RuntimeError("stubborn process did not start")


def test_stop_escalates_to_sigkill_after_timeout(env: dict[str, str]) -> None:
    process = _stubborn_process()
    try:
        _fake_state(env, process.pid, process_start_time(process.pid) or "")
        started = time.monotonic()
        result = cli(env, "stop", "--timeout", "0.5")
        assert result.returncode == 0, result.stderr
        assert f"{PREFIX} SIGTERM timed out after 0.5s, escalated to SIGKILL" in result.stderr
        assert result.stdout.strip() == f"{PREFIX} stopped (SIGKILL, PID {process.pid})"
        assert process.wait(timeout=5) == -signal.SIGKILL
        assert time.monotonic() - started < 10
        assert not state_file(env).exists()
    finally:
        process.kill()
        process.wait()


def test_stop_force_kills_at_once(env: dict[str, str]) -> None:
    process = _stubborn_process()
    try:
        _fake_state(env, process.pid, process_start_time(process.pid) or "")
        result = cli(env, "stop", "--force")
        assert result.stdout.strip() == f"{PREFIX} stopped (SIGKILL, PID {process.pid})"
        assert "timed out" not in result.stderr
        assert process.wait(timeout=5) == -signal.SIGKILL
    finally:
        process.kill()
        process.wait()


def test_stop_without_state_file(env: dict[str, str]) -> None:
    result = cli(env, "stop")
    assert (result.returncode, result.stdout.strip()) == (
        0,
        f"{PREFIX} not running — nothing to stop",
    )
    result = cli(env, "restart")
    assert (result.returncode, result.stderr.strip()) == (
        1,
        f"{PREFIX} not running — nothing to restart",
    )


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"schema_version": 2, "pid": 1}'], ids=["corrupt", "schema"]
)
@pytest.mark.parametrize("command", ["status", "stop", "restart"])
def test_bad_state_file_is_named_and_left_alone(
    env: dict[str, str], content: bytes, command: str
) -> None:
    path = state_file(env)
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_bytes(content)
    path.chmod(0o600)
    before = path.stat().st_mtime_ns
    result = cli(env, command)
    assert result.returncode == 1
    assert str(path) in result.stderr and "delete" in result.stderr
    assert path.read_bytes() == content and path.stat().st_mtime_ns == before


def test_status_json_shapes(env: dict[str, str]) -> None:
    result = cli(env, "status", "--json")
    assert json.loads(result.stdout) == {"state": "not_running"}
    pid = _dead_pid()
    _fake_state(env, pid, "1")
    stale = json.loads(cli(env, "status", "--json").stdout)
    assert stale["state"] == "stale" and stale["pid"] == pid
    assert set(stale) == {
        "state",
        "pid",
        "url",
        "workspace",
        "started_at",
        "models_total",
        "providers",
    }


def test_second_server_refused_while_one_runs(tmp_path: Path, env: dict[str, str]) -> None:
    config = write_config(tmp_path / "cfg.json", {"providers": {"anthropic": {}}})
    with running_server(config, env, cwd=tmp_path) as first:
        second = subprocess.run(
            [engine_binary(), "serve", "chat-completions", "--port", "0", "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 2
        assert "[error] already_running" in second.stderr
        assert '"code":"startup_failed"' in second.stderr
        pid = json.loads(state_file(env).read_text())["pid"]
        assert (
            f"[error] already_running: a server is already running at {first.url} (PID {pid})"
            in second.stderr
        )
