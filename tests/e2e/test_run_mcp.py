"""MCP stdio servers (official SDK) expose tools the model calls through `run` (§6.7)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from testkit import reply_text, reply_tool_calls
from tests.e2e.conftest import AgentCli, anthropic_blocks, process_gone, tool_result_text

ECHO_SERVER = Path(__file__).parents[1] / "tools" / "mcp_echo_server.py"


def write_mcp_config(agent: AgentCli) -> Path:
    path = agent.root / "mcp.json"
    servers = {"echo": {"command": sys.executable, "args": [str(ECHO_SERVER)]}}
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


def test_mcp_tool_result_reaches_the_model(agent: AgentCli) -> None:
    agent.fake.enqueue(
        reply_tool_calls(
            ("call_add", "mcp__echo__add", {"a": 2, "b": 40}),
            ("call_pid", "mcp__echo__pid", {}),
        ),
        reply_text("the sum is 42"),
    )
    config = agent.config_with_model(mcp={"configPath": str(write_mcp_config(agent))})

    result = agent.run("run", "-y", "--config", str(config), "--output", "json", "add 2 and 40")

    assert result.returncode == 0, result.stderr
    first, second = (r.body for r in agent.fake.model_requests())
    offered = {tool["name"] for tool in first["tools"]}
    assert {"mcp__echo__add", "mcp__echo__echo", "bash"} <= offered
    results = {b["tool_use_id"]: b for b in anthropic_blocks(second, "tool_result")}
    assert tool_result_text(results["call_add"]) == "42"
    assert not results["call_add"].get("is_error")
    server_pid = int(tool_result_text(results["call_pid"]))
    assert process_gone(server_pid), "the MCP server outlived the run"


def test_mcp_config_from_the_environment_and_denial(agent: AgentCli) -> None:
    agent.fake.enqueue(
        reply_tool_calls(("call_echo", "mcp__echo__echo", {"text": "ping"})),
        reply_text("denied"),
    )
    env = agent.env(AMPLIFIER_MCP_CONFIG=str(write_mcp_config(agent)))
    config = agent.config_with_model()

    result = agent.run("run", "-n", "--config", str(config), "echo ping", env=env)

    assert result.returncode == 0, result.stderr
    (denied,) = anthropic_blocks(agent.fake.model_requests()[1].body, "tool_result")
    assert denied["is_error"] is True
    assert tool_result_text(denied).startswith("Error: approval_denied")


def test_a_broken_mcp_server_contributes_no_tools(agent: AgentCli) -> None:
    path = agent.root / "mcp.json"
    servers = {"bad": {"command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"]}}
    path.write_text(json.dumps({"mcpServers": servers}))
    agent.fake.enqueue(reply_text("fine"))
    config = agent.config_with_model(mcp={"configPath": str(path)})

    result = agent.run("run", "-y", "--config", str(config), "hi")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "fine\n"
    names = {tool["name"] for tool in agent.fake.model_requests()[0].body["tools"]}
    assert not any(name.startswith("mcp__") for name in names)
