"""`doctor [--strict] [--quick]` (SPEC §7.5): one labelled line per check, exit 1 on any FAIL
(and on WARN with `--strict`). The provider is the real Anthropic SDK against the loopback fake."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from amplifier_agent.cli.app import cli
from amplifier_agent.cli.doctor import Check
from amplifier_agent.cli.serve_state import ServeState, process_start_time, write_state
from amplifier_agent.config.credentials_file import save_credentials, with_credential
from amplifier_agent.engine import session_store_round_trip
from testkit import FakeUpstream

KEY = "sk-ant-doctor-test-key-7Q2x"
PROVIDER_OK = "[ OK ] provider anthropic: env=ANTHROPIC_API_KEY"
PROVIDER_NOT_SET = (
    "[FAIL] provider anthropic: NOT SET "
    "(export ANTHROPIC_API_KEY or run `amplifier-agent auth set anthropic ...`)"
)
#: The check each output line belongs to, in the order SPEC §7.5 lists them.
CHECK_ORDER = [
    "python:",
    "home:",
    "credentials.json:",
    "host_config:",
    "provider ",
    "routing:",
    "mcp:",
    "session store:",
    "serve:",
    "models:",
]


def doctor(*args: str) -> Result:
    return CliRunner().invoke(cli, ["doctor", *args], catch_exceptions=False)


def line_for(result: Result, prefix: str) -> str:
    """The one output line whose text (after the label) starts with `prefix`."""
    hits = [line for line in result.output.splitlines() if line[7:].startswith(prefix)]
    assert len(hits) == 1, result.output
    return hits[0]


def write_host_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "host_config.json"
    path.write_text(text)
    monkeypatch.setenv("AMPLIFIER_AGENT_CONFIG", str(path))
    return path


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@pytest.fixture
def anthropic(fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> FakeUpstream:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_upstream.url)
    return fake_upstream


@pytest.fixture
def private_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private system temp dir, so the session-store probe's leftovers are observable."""
    directory = tmp_path / "system-tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    yield directory


# -- the healthy path ---------------------------------------------------------------------


def test_clean_home_with_key_passes_every_check(
    anthropic: FakeUpstream, isolated_home: Path
) -> None:
    result = doctor()

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [next(p for p in CHECK_ORDER if line[7:].startswith(p)) for line in lines] == CHECK_ORDER
    assert lines[0].startswith("[ OK ] python: 3.")
    assert lines[1].startswith(f"[INFO] home: {isolated_home} (env:AMPLIFIER_AGENT_HOME)")
    assert lines[2] == f"[INFO] credentials.json: not present ({isolated_home}/credentials.json)"
    assert lines[3].startswith("[INFO] host_config: none")
    assert lines[4] == PROVIDER_OK
    assert lines[5] == "[ OK ] routing: matrix=anthropic (provider_family)"
    assert lines[6].startswith("[ OK ] mcp: SDK importable")
    assert lines[7].startswith("[ OK ] session store:")
    assert lines[8] == "[INFO] serve: not running"
    assert lines[9] == "[ OK ] models: anthropic listed 4 models"
    listed = [r for r in anthropic.requests if r.path == "/v1/models"]
    assert len(listed) == 1
    assert any(KEY in value for value in listed[0].headers.values()), "the env key was sent"
    assert KEY not in result.output


def test_quick_skips_the_live_listing(anthropic: FakeUpstream) -> None:
    result = doctor("--quick")

    assert result.exit_code == 0, result.output
    assert line_for(result, "models:") == "[INFO] models: live listing skipped (--quick)"
    assert anthropic.requests == []


def test_existing_private_home_is_ok(anthropic: FakeUpstream, isolated_home: Path) -> None:
    isolated_home.mkdir(mode=0o700)
    os.chmod(isolated_home, 0o700)

    result = doctor("--quick", "--strict")

    assert result.exit_code == 0, result.output
    expected = f"[ OK ] home: {isolated_home} (env:AMPLIFIER_AGENT_HOME): writable, mode 700"
    assert line_for(result, "home:") == expected
    assert tree(isolated_home) == []


def test_routing_follows_host_config(
    anthropic: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_host_config(tmp_path, monkeypatch, json.dumps({"routing": {"matrix": "economy"}}))

    result = doctor("--quick")

    assert result.exit_code == 0, result.output
    assert line_for(result, "host_config:") == (
        f"[ OK ] host_config: {path} (env:AMPLIFIER_AGENT_CONFIG)"
    )
    assert line_for(result, "routing:") == "[ OK ] routing: matrix=economy (host_config)"


def test_config_flag_wins_over_the_environment(
    anthropic: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_host_config(tmp_path, monkeypatch, json.dumps({"routing": {"matrix": "economy"}}))
    flagged = tmp_path / "flagged.json"
    flagged.write_text(json.dumps({"routing": {"matrix": "quality"}}))

    result = doctor("--quick", "--config", str(flagged))

    assert result.exit_code == 0, result.output
    assert line_for(result, "host_config:") == f"[ OK ] host_config: {flagged} (--config)"
    assert line_for(result, "routing:") == "[ OK ] routing: matrix=quality (host_config)"


# -- failures and warnings ------------------------------------------------------------------


def test_missing_key_fails_with_the_exact_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pin the module: with no key anywhere, auto-detection would fall back to `local`.
    write_host_config(tmp_path, monkeypatch, json.dumps({"provider": {"module": "anthropic"}}))

    result = doctor()

    assert result.exit_code == 1, result.output
    assert line_for(result, "provider ") == PROVIDER_NOT_SET
    assert line_for(result, "models:").startswith("[INFO] models: live listing skipped")


def test_local_provider_is_ok_when_its_runtime_imports() -> None:
    pytest.importorskip("llama_cpp")

    result = doctor("--quick")

    assert result.exit_code == 0, result.output
    assert line_for(result, "provider ") == "[ OK ] provider local: llama_cpp importable"
    assert line_for(result, "routing:") == "[ OK ] routing: matrix=balanced (provider_family)"


def test_group_readable_credentials_warn_and_fail_only_when_strict(
    anthropic: FakeUpstream, isolated_home: Path
) -> None:
    path = isolated_home / "credentials.json"
    save_credentials(path, with_credential(None, "openai", value="sk-openai-stored-0000"))
    os.chmod(path, 0o640)

    relaxed = doctor("--quick")
    strict = doctor("--quick", "--strict")

    assert relaxed.exit_code == 0, relaxed.output
    assert line_for(relaxed, "credentials.json:") == (
        f"[WARN] credentials.json: {path} is mode 640, expected 600 (run `chmod 600 {path}`)"
    )
    assert strict.exit_code == 1, strict.output
    assert (path.stat().st_mode & 0o777) == 0o640, "doctor must only report, never tighten"
    assert "sk-openai-stored-0000" not in relaxed.output


def test_private_credentials_file_is_ok(anthropic: FakeUpstream, isolated_home: Path) -> None:
    path = isolated_home / "credentials.json"
    save_credentials(path, with_credential(None, "openai", value="sk-openai-stored-0000"))

    result = doctor("--quick", "--strict")

    assert result.exit_code == 0, result.output
    assert line_for(result, "credentials.json:") == f"[ OK ] credentials.json: {path} (mode 600)"


def test_corrupt_credentials_fail_naming_the_path(
    anthropic: FakeUpstream, isolated_home: Path
) -> None:
    isolated_home.mkdir(mode=0o700)
    path = isolated_home / "credentials.json"
    path.write_text("{not json")
    os.chmod(path, 0o600)

    result = doctor("--quick")

    assert result.exit_code == 1, result.output
    line = line_for(result, "credentials.json:")
    assert line.startswith(f"[FAIL] credentials.json: credentials_corrupt: {path} ")


def test_loose_home_warns(anthropic: FakeUpstream, isolated_home: Path) -> None:
    isolated_home.mkdir()
    os.chmod(isolated_home, 0o755)

    result = doctor("--quick", "--strict")

    assert result.exit_code == 1, result.output
    assert line_for(result, "home:") == (
        f"[WARN] home: {isolated_home} (env:AMPLIFIER_AGENT_HOME): mode 755, expected 700 "
        f"(run `chmod 700 {isolated_home}`)"
    )


def test_corrupt_host_config_fails_naming_the_code(
    anthropic: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_host_config(tmp_path, monkeypatch, '{"provider": ')

    result = doctor("--quick")

    assert result.exit_code == 1, result.output
    line = line_for(result, "host_config:")
    assert line.startswith(f"[FAIL] host_config: config_malformed_json: {path}: ")


def test_unknown_host_config_key_fails_naming_the_code(
    anthropic: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_host_config(tmp_path, monkeypatch, json.dumps({"providr": {}}))

    result = doctor("--quick")

    assert result.exit_code == 1, result.output
    assert line_for(result, "host_config:").startswith("[FAIL] host_config: config_unknown_key: ")


def test_missing_mcp_sdk_warns(anthropic: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes the import fail exactly as an uninstalled package does.
    monkeypatch.setitem(sys.modules, "mcp", None)
    monkeypatch.setitem(sys.modules, "amplifier_agent.tools.mcp", None)

    relaxed = doctor("--quick")
    strict = doctor("--quick", "--strict")

    assert relaxed.exit_code == 0, relaxed.output
    assert line_for(relaxed, "mcp:").startswith("[WARN] mcp: SDK not importable")
    assert strict.exit_code == 1


def test_listing_failure_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")

    result = doctor()

    assert result.exit_code == 1, result.output
    assert line_for(result, "models:").startswith("[FAIL] models: anthropic: upstream_unavailable")


def test_listing_gives_up_after_five_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    # A socket that accepts connections (the kernel's backlog) but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        result = doctor()
        elapsed = time.monotonic() - started

    assert result.exit_code == 1, result.output
    assert line_for(result, "models:") == (
        "[FAIL] models: anthropic: upstream_timeout: listing anthropic models timed out after 5 s"
    )
    assert 4.5 <= elapsed < 15


# -- serve state ------------------------------------------------------------------------------


def serve_state(pid: int, start_time: str) -> ServeState:
    return ServeState(
        schema_version=1,
        pid=pid,
        process_start_time=start_time,
        instance_token="tok",
        started_at="2025-01-01T00:00:00Z",
        host="127.0.0.1",
        port=8123,
        api_key="sk-serve-secret-key-abcd",
        api_key_generated=True,
        workspace="ws",
        cwd="/",
        host_config_path=None,
        model_id=None,
        log_level="info",
        allow_hosts=[],
        allow_origins=[],
        providers_summary={"anthropic": 4},
        models_total=4,
    )


def test_serve_running_is_reported(anthropic: FakeUpstream) -> None:
    started = process_start_time(os.getpid())
    assert started is not None
    write_state(serve_state(os.getpid(), started))

    result = doctor("--quick")

    assert result.exit_code == 0, result.output
    expected = f"[INFO] serve: running at http://127.0.0.1:8123 (PID {os.getpid()})"
    assert line_for(result, "serve:") == expected
    assert "sk-serve-secret-key-abcd" not in result.output


def test_serve_stale_state_is_reported_and_kept(
    anthropic: FakeUpstream, isolated_home: Path
) -> None:
    write_state(serve_state(os.getpid(), "not-my-start-time"))

    result = doctor("--quick")

    assert result.exit_code == 0, result.output
    assert line_for(result, "serve:").startswith(
        f"[INFO] serve: stale state file (PID {os.getpid()} now belongs to another process"
    )
    assert (isolated_home / "state" / "serve.json").exists()


# -- the session store ------------------------------------------------------------------------


def test_session_store_check_leaves_nothing_behind(
    anthropic: FakeUpstream, isolated_home: Path, private_temp: Path
) -> None:
    isolated_home.mkdir(mode=0o700)
    os.chmod(isolated_home, 0o700)

    result = doctor("--quick")

    assert result.exit_code == 0, result.output
    assert line_for(result, "session store:").startswith("[ OK ] session store:")
    assert tree(isolated_home) == []
    assert tree(private_temp) == []


def test_round_trip_runs_in_the_temp_root_and_removes_it(tmp_path: Path) -> None:
    root = tmp_path / "probe-root"
    root.mkdir()
    seen: list[str] = []
    original = tempfile.TemporaryDirectory.__exit__

    def spy(self: tempfile.TemporaryDirectory[str], *exc: object) -> None:
        seen.extend(tree(root))
        original(self, *exc)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile.TemporaryDirectory, "__exit__", spy)
        probe = session_store_round_trip(root)

    assert probe.ok, probe.detail
    assert any(path.endswith("workspaces/doctor/sessions") for path in seen), seen
    assert tree(root) == []


def test_round_trip_reports_a_store_it_cannot_write(tmp_path: Path) -> None:
    root = tmp_path / "probe-root"
    root.mkdir()
    blocked = tempfile.TemporaryDirectory.__enter__

    def enter_with_blocker(self: tempfile.TemporaryDirectory[str]) -> str:
        name = blocked(self)
        Path(name, "workspaces").write_text("a file where the directory should be")
        return name

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile.TemporaryDirectory, "__enter__", enter_with_blocker)
        probe = session_store_round_trip(root)

    assert not probe.ok
    assert probe.detail.startswith("create failed: ")
    assert tree(root) == []


# -- secrets and the real process -------------------------------------------------------------


def test_masked_hides_the_active_credential() -> None:
    check = Check("fail", f"models: anthropic: error echoing {KEY}!")
    assert check.masked(KEY).render() == "[FAIL] models: anthropic: error echoing ...7Q2x!"
    assert check.masked(None) == check


def test_real_process(fake_upstream: FakeUpstream, isolated_home: Path) -> None:
    env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": fake_upstream.url}

    done = subprocess.run(
        [sys.executable, "-m", "amplifier_agent", "doctor", "--strict"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(CHECK_ORDER)
    assert PROVIDER_OK in lines
    assert lines[-1] == "[ OK ] models: anthropic listed 4 models"
    assert KEY not in done.stdout + done.stderr
    assert tree(isolated_home) == []
