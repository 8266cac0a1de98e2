"""bash: output, exit code, output cap, and killing the whole process group on timeout/cancel."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from amplifier_agent.tools import ToolContext, ToolError
from amplifier_agent.tools.bash import bash


def group_gone(pgid: int, within_s: float = 10.0) -> bool:
    """Whether the group empties; killed orphans linger as zombies until init reaps them."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


async def wait_for_file(path: Path, within_s: float = 10.0) -> str:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


async def test_output_and_exit_code(ctx: ToolContext, workspace: Path) -> None:
    result = await bash.run(ctx, {"command": "pwd; echo oops >&2; exit 3"})
    assert not result.is_error
    assert result.content == f"{os.path.realpath(workspace)}\noops\nExit code: 3"


async def test_no_output(ctx: ToolContext) -> None:
    assert (await bash.run(ctx, {"command": "true"})).content == "(no output)\nExit code: 0"


async def test_stdin_is_empty(ctx: ToolContext) -> None:
    result = await bash.run(ctx, {"command": "cat; echo done", "timeout_s": 5})
    assert result.content == "done\nExit code: 0"


async def test_output_keeps_the_last_30000_chars(ctx: ToolContext) -> None:
    command = "for i in $(seq 1 20000); do echo line$i; done"
    content = (await bash.run(ctx, {"command": command})).content
    body = content.split("\n", 1)[1].rsplit("\nExit code: ", 1)[0]
    assert content.startswith("[output truncated: showing the last 30000 characters]")
    assert len(body) <= 30_000 and body.endswith("line20000")
    assert "line1\n" not in body


async def test_timeout_bounds(ctx: ToolContext) -> None:
    for value in (0, 601):
        with pytest.raises(ToolError) as raised:
            await bash.run(ctx, {"command": "true", "timeout_s": value})
        assert raised.value.code == "invalid_tool_arguments"
    assert bash.parameters["properties"]["timeout_s"]["default"] == 120


async def test_subject_is_the_command(ctx: ToolContext) -> None:
    assert bash.approval_kind == "bash"
    assert bash.subject(ctx, {"command": "rm -rf build"}) == "rm -rf build"


async def test_timeout_kills_the_whole_group(ctx: ToolContext, workspace: Path) -> None:
    command = "echo $$ > pgid; echo started; sleep 100 & sleep 100"
    with pytest.raises(ToolError) as raised:
        await bash.run(ctx, {"command": command, "timeout_s": 1})
    assert raised.value.code == "tool_timeout"
    assert "started" in raised.value.message
    pgid = int((workspace / "pgid").read_text())
    assert group_gone(pgid)
    assert pgid not in ctx.processes


async def test_cancellation_kills_the_whole_group(ctx: ToolContext, workspace: Path) -> None:
    command = "echo $$ > pgid; sleep 100 & sleep 100"
    task = asyncio.create_task(bash.run(ctx, {"command": command}))
    pgid = int(await wait_for_file(workspace / "pgid"))
    assert pgid in ctx.processes
    os.killpg(pgid, 0)  # alive while the tool runs
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert group_gone(pgid)
    assert pgid not in ctx.processes


async def test_registry_kill_all_ends_a_running_command(ctx: ToolContext, workspace: Path) -> None:
    task = asyncio.create_task(bash.run(ctx, {"command": "echo $$ > pgid; sleep 100"}))
    pgid = int(await wait_for_file(workspace / "pgid"))
    ctx.processes.kill_all()
    result = await asyncio.wait_for(task, 10)
    assert result.content.endswith("Exit code: -9")
    assert group_gone(pgid)


async def test_background_children_do_not_outlive_the_command(
    ctx: ToolContext, workspace: Path
) -> None:
    started = time.monotonic()
    result = await bash.run(ctx, {"command": "echo $$ > pgid; sleep 100 & echo bye"})
    assert result.content == "bye\nExit code: 0"
    assert time.monotonic() - started < 10
    assert group_gone(int((workspace / "pgid").read_text()))


async def test_commands_never_see_provider_keys(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value")
    monkeypatch.setenv("AZURE_OPENAI_KEY", "azure-secret-value")
    monkeypatch.setenv("AMPLIFIER_AGENT_HTTP_API_KEY", "aak_secret-value")
    monkeypatch.setenv("AMPLIFIER_VISIBLE", "plain-value")
    result = await bash.run(ctx, {"command": "env"})
    assert "secret-value" not in result.content
    assert "AMPLIFIER_VISIBLE=plain-value" in result.content
