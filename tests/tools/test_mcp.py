"""McpManager against a real stdio MCP server written with the official SDK."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from amplifier_agent.core.errors import ConfigError
from amplifier_agent.tools import ToolContext, ToolError
from amplifier_agent.tools.mcp import McpManager, exposed_name, load_mcp_config
from amplifier_agent.tools.mcp_config import parse_mcp_servers

ECHO_SERVER = str(Path(__file__).with_name("mcp_echo_server.py"))


def echo_config(**extra: Any) -> dict[str, Any]:
    return {"mcpServers": {"echo": {"command": sys.executable, "args": [ECHO_SERVER]}, **extra}}


def process_gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


async def test_lists_calls_and_closes(ctx: ToolContext) -> None:
    async with McpManager(echo_config()) as manager:
        tools = {tool.name: tool for tool in await manager.tools()}
        assert set(tools) == {
            "mcp__echo__echo",
            "mcp__echo__add",
            "mcp__echo__pid",
            "mcp__echo__shout",
            "mcp__echo__fail",
        }
        add = tools["mcp__echo__add"]
        assert add.approval_kind == "mcp"
        assert add.subject(ctx, {"a": 1, "b": 2}) == "mcp__echo__add"
        assert add.description == "Add two integers."
        assert add.parameters["required"] == ["a", "b"]
        assert add.spec().name == "mcp__echo__add"

        result = await add.run(ctx, {"a": 2, "b": 40})
        assert (result.content, result.is_error) == ("42", False)
        shout = await tools["mcp__echo__shout"].run(ctx, {"text": "hi", "times": 2})
        assert shout.content == "HI\nHI"
        failed = await tools["mcp__echo__fail"].run(ctx, {"reason": "no luck"})
        assert failed.is_error and "no luck" in failed.content

        pid = int((await tools["mcp__echo__pid"].run(ctx, {})).content)
        assert os.getpgid(pid) == os.getpgid(0)  # the server lives in our process group
        assert await manager.tools() == tuple(tools.values())  # started once
    assert process_gone(pid)
    assert await manager.tools() == ()
    with pytest.raises(ToolError) as raised:
        await tools["mcp__echo__echo"].run(ctx, {"text": "late"})
    assert raised.value.code == "mcp_server_unavailable"


async def test_long_results_are_capped(ctx: ToolContext) -> None:
    async with McpManager(echo_config()) as manager:
        echo = {tool.name: tool for tool in await manager.tools()}["mcp__echo__echo"]
        result = await echo.run(ctx, {"text": "z" * 70_000})
    assert len(result.content) == 65_536
    assert result.content.startswith("zzz") and result.content.endswith("characters in total]")


async def test_a_missing_command_contributes_no_tools(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = echo_config(broken={"command": "/nonexistent/mcp-server"})
    caplog.set_level(logging.WARNING)
    async with McpManager(config) as manager:
        names = [tool.name for tool in await manager.tools()]
    assert names and all(name.startswith("mcp__echo__") for name in names)
    assert "MCP server broken failed" in caplog.text


async def test_only_a_missing_command_gives_no_tools_and_no_crash() -> None:
    async with McpManager({"mcpServers": {"gone": {"command": "/nonexistent/x"}}}) as manager:
        assert await manager.tools() == ()


async def test_a_silent_server_times_out_and_is_stopped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pid_file = tmp_path / "pid"
    script = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    config = {"mcpServers": {"mute": {"command": sys.executable, "args": ["-c", script]}}}
    caplog.set_level(logging.WARNING)
    async with McpManager(config, list_timeout_s=1.0) as manager:
        assert await manager.tools() == ()
    assert "did not list its tools within 1s" in caplog.text
    assert process_gone(int(pid_file.read_text()))


async def test_url_entries_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    servers = parse_mcp_servers(
        {"mcpServers": {"remote": {"url": "https://mcp.example"}, "local": {"command": "srv"}}}
    )
    assert [server.name for server in servers] == ["local"]
    assert "remote is not a stdio server" in caplog.text


def test_exposed_names_are_sanitised_and_bounded() -> None:
    assert exposed_name("my.server", "do thing/now") == "mcp__my_server__do_thing_now"
    long = exposed_name("s" * 40, "t" * 40)
    assert len(long) == 64 and long.startswith("mcp__sss")
    assert long != exposed_name("s" * 40, "t" * 41)


def test_load_mcp_config_validates(tmp_path: Path) -> None:
    good = tmp_path / "mcp.json"
    good.write_text(
        json.dumps(echo_config(extra={"command": "x", "type": "stdio", "env": {"A": "1"}}))
    )
    assert load_mcp_config(good)["mcpServers"]["extra"]["env"] == {"A": "1"}
    cases = {
        "missing.json": None,
        "bad.json": "{not json",
        "shape.json": json.dumps({"servers": {}}),
        "args.json": json.dumps({"mcpServers": {"s": {"command": "x", "args": [1]}}}),
        "nocmd.json": json.dumps({"mcpServers": {"s": {"args": []}}}),
    }
    codes = {}
    for name, text in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(ConfigError) as raised:
            load_mcp_config(path)
        assert str(path) in raised.value.message
        codes[name] = raised.value.code
    assert codes == {
        "missing.json": "config_unreadable",
        "bad.json": "config_malformed_json",
        "shape.json": "config_invalid_type",
        "args.json": "config_invalid_type",
        "nocmd.json": "config_invalid_type",
    }


async def test_manager_requires_async_with() -> None:
    with pytest.raises(RuntimeError, match="async with"):
        await McpManager(echo_config()).tools()


async def test_closing_while_servers_start_stops_them(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    config = {"mcpServers": {"slow": {"command": sys.executable, "args": ["-c", script]}}}
    started = time.monotonic()
    async with McpManager(config, list_timeout_s=60) as manager, anyio.create_task_group() as group:
        group.start_soon(manager.tools)
        while not pid_file.exists() or not pid_file.read_text():
            await anyio.sleep(0.02)
        await manager.aclose()
    assert time.monotonic() - started < 30
    assert process_gone(int(pid_file.read_text()))
