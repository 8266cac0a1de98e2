"""One turn end to end against the fake engine: argv, environment, MCP spill, outcome rules,
notification routing and the timeout."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent_py import spawn_agent
from helpers import SESSION, FakeEngine, collect, notification, ok_envelope


async def run_turn(prompt: str = "hi", **options: Any) -> list[dict[str, Any]]:
    handle = await spawn_agent(session_id=options.pop("session_id", SESSION), **options)
    return await collect(handle.submit(prompt))


async def test_argv_follows_the_normative_order(fake: FakeEngine, tmp_path: Path) -> None:
    await run_turn(
        "do it",
        resume=True,
        cwd=tmp_path,
        config_path=tmp_path / "host.json",
        display_mode="text",
        workspace="proj-1",
        approval="no",
    )
    assert fake.run_record()["argv"] == [
        "run", "--session-id", SESSION, "--resume", "--cwd", str(tmp_path),
        "--config", str(tmp_path / "host.json"), "--output", "json",
        "--protocol-version", "0.3.0", "--display", "text", "--workspace", "proj-1",
        "-n", "--", "do it",
    ]  # fmt: skip


async def test_argv_defaults(fake: FakeEngine) -> None:
    await run_turn("hello")
    assert fake.run_record()["argv"] == [
        "run", "--session-id", SESSION, "--fresh", "--output", "json",
        "--protocol-version", "0.3.0", "--display", "ndjson", "-y", "--", "hello",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("approval", "flag"), [("yes", ["-y"]), ({"mode": "no"}, ["-n"]), ("prompt", [])]
)
async def test_approval_flags(fake: FakeEngine, approval: Any, flag: list[str]) -> None:
    await run_turn(approval=approval)
    argv = fake.run_record()["argv"]
    assert [a for a in argv if a in ("-y", "-n")] == flag


async def test_prompt_starting_with_a_dash_arrives_intact(fake: FakeEngine) -> None:
    prompt = "--help -y --session-id other"
    events = await run_turn(prompt)
    argv = fake.run_record()["argv"]
    assert argv[-2:] == ["--", prompt]
    assert argv.count("--session-id") == 1
    assert events[-1]["type"] == "result"


async def test_engine_runs_as_its_own_group_leader(fake: FakeEngine) -> None:
    await run_turn()
    record = fake.run_record()
    assert record["pid"] == record["pgid"] == record["sid"]
    assert record["pgid"] != os.getpgid(0)


async def test_child_environment_is_the_allowlist(
    fake: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "leak")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("AMPLIFIER_AGENT_WORKSPACE", "ws")
    monkeypatch.setenv("MY_TOOL_CONFIG", "yes")
    env = {
        "allowlist": ["MY_TOOL_CONFIG", "NOT_SET_ANYWHERE"],
        "extra": {"AMPLIFIER_AGENT_WORKSPACE": "override", "EXTRA_ONE": "1"},
    }
    await run_turn(env=env)
    child = fake.run_record()["env"]
    assert "SECRET_TOKEN" not in child and "PYTHONPATH" not in child
    assert "NOT_SET_ANYWHERE" not in child
    assert child["LC_ALL"] == "C.UTF-8"
    assert child["OPENAI_API_KEY"] == "sk-test"
    assert child["MY_TOOL_CONFIG"] == "yes"
    assert child["AMPLIFIER_AGENT_WORKSPACE"] == "override"
    assert child["EXTRA_ONE"] == "1"
    allowed = {
        "PATH",
        "HOME",
        "USER",
        "LANG",
        "TERM",
        "TMPDIR",
        "MY_TOOL_CONFIG",
        "EXTRA_ONE",
        "OPENAI_API_KEY",
    }
    strays = {n for n in child if n not in allowed and not n.startswith(("AMPLIFIER_", "LC_"))}
    # A launcher between us and the fake engine (env, a pyenv shim) may add its own names.
    launcher = {n for n in strays if n in {"PWD", "SHLVL", "_"} or "PYENV" in n}
    assert strays == launcher, strays


MCP = {"files": {"command": "mcp-files", "args": ["--root", "/data"]}}


@pytest.mark.parametrize("exit_code", [0, 5])
async def test_mcp_spill_is_private_and_removed(
    fake: FakeEngine, tmp_path: Path, exit_code: int
) -> None:
    fake.configure(exit_code=exit_code, stdout="" if exit_code else ok_envelope())
    await run_turn(mcp_servers=MCP)
    seen = fake.run_record()["mcp"]
    expected_path = tmp_path / "runtime" / "amplifier-agent" / SESSION / "mcp.json"
    assert seen == {
        "path": str(expected_path),
        "content": {"mcpServers": MCP},
        "mode": 0o600,
        "dir_mode": 0o700,
    }
    assert not expected_path.exists()
    assert stat.S_IMODE((tmp_path / "runtime" / "amplifier-agent").stat().st_mode) == 0o700


async def test_mcp_spill_falls_back_to_the_temp_dir(
    fake: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    await run_turn(mcp_servers=MCP)
    path = Path(fake.run_record()["mcp"]["path"])
    assert path == tmp_path / "amplifier-agent" / SESSION / "mcp.json"
    assert not path.exists()


async def test_no_mcp_variable_without_servers(fake: FakeEngine) -> None:
    await run_turn()
    assert "AMPLIFIER_MCP_CONFIG" not in fake.run_record()["env"]


async def test_envelope_is_authoritative_over_a_nonzero_exit(fake: FakeEngine) -> None:
    fake.configure(stdout=ok_envelope("all good"), exit_code=7)
    events = await run_turn()
    assert [e["type"] for e in events] == ["init", "notification", "result"]
    assert events[-1]["text"] == "all good"
    assert events[-1]["metadata"]["costUsd"] == "0.0001"


async def test_stderr_tail_is_the_last_4096_characters(fake: FakeEngine) -> None:
    lines = [f"line {i:04d} " + "é" * 40 for i in range(200)]
    fake.configure(stdout="", stderr_lines=lines, exit_code=1)
    events = await run_turn()
    tail = events[-1]["stderr_tail"]
    full = "".join(line + "\n" for line in lines)
    assert len(tail) == 4096 and tail == full[-4096:]
    assert events[-1]["code"] == "engine_exit_1"


async def test_notifications_go_only_to_on_event(fake: FakeEngine) -> None:
    fake.configure(
        stderr_lines=[
            notification("progress", message="a"),
            notification("result/final", text="done"),
        ]
    )
    seen: list[dict[str, Any]] = []

    async def on_event(event: dict[str, Any]) -> None:
        await asyncio.sleep(0.01)
        seen.append(event)

    events = await run_turn(display={"on_event": on_event})
    assert [e["type"] for e in events] == ["init", "result"]
    assert [e["method"] for e in seen] == ["progress", "result/final"]


async def test_no_synthesized_final_in_text_display_mode(fake: FakeEngine) -> None:
    events = await run_turn(display_mode="text")
    assert [e["type"] for e in events] == ["init", "result"]


async def test_spawn_failure_is_a_transport_error_event(
    fake: FakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "not-executable"
    binary.write_text("#!/bin/sh\n")
    monkeypatch.setenv("AMPLIFIER_AGENT_BIN", str(binary))
    events = await run_turn(allow_protocol_skew=True, mcp_servers=MCP)
    assert [e["type"] for e in events] == ["init", "error"]
    error = events[-1]
    assert (error["code"], error["classification"], error["retryable"]) == (
        "spawn_failed",
        "transport",
        True,
    )
    assert "EACCES" in error["message"]
    assert not (tmp_path / "runtime" / "amplifier-agent" / SESSION / "mcp.json").exists()


async def test_timeout_yields_engine_hung(fake: FakeEngine) -> None:
    fake.configure(delay_ms=30_000, stderr_lines=[notification("progress", message="thinking")])
    started = time.monotonic()
    events = await run_turn(timeout_ms=400)
    assert time.monotonic() - started < 5
    error = events[-1]
    assert (error["code"], error["classification"], error["retryable"]) == (
        "engine_hung",
        "engine",
        True,
    )
    assert "[info] Terminated" in error["stderr_tail"]
    assert [e["type"] for e in events] == ["init", "notification", "error"]


async def test_result_event_shape(fake: FakeEngine) -> None:
    events = await run_turn()
    init, final, result = events
    assert init == {
        "type": "init",
        "session_id": SESSION,
        "engine_info": {
            "binary_path": str(fake.binary),
            "protocol_version": "0.3.0",
            "engine_version": "0.8.0",
            "bundle_digest": "",
        },
    }
    assert final["synthesized"] is True and final["params"]["text"] == "done"
    assert result == {
        "type": "result",
        "text": "done",
        "session_id": SESSION,
        "metadata": ok_envelope()["metadata"],
    }
    assert json.dumps(events)  # plain data all the way down
