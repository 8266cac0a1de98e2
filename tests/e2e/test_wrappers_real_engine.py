"""Both host SDKs (SPEC §11) against the real engine binary and the loopback fake upstream: a
costed turn, a prompt that looks like an option, cancel mid-stream, and the model listing.

Python drives `amplifier_agent_py` in process; TypeScript runs the Node scripts in
`wrapper_scripts/`, which import `wrappers/typescript/src/index.js` and print JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent_py import list_models, spawn_agent
from testkit import Block, FakeUpstream, Reply
from tests.e2e.conftest import (
    AGENT_BIN,
    ROOT_MODEL,
    AgentCli,
    descendants_running,
    expected_cost,
    group_gone,
    wait_for,
)

SCRIPTS = Path(__file__).resolve().parent / "wrapper_scripts"
NODE_TIMEOUT_S = 60.0
PROMPT = "--not-a-flag please"
REPLY = "Hello from the real engine."
USAGE = {"input": 1200, "output": 80, "cache_read": 0, "cache_write": 0}
MODELS = [
    {"id": "claude-opus-4-1-20250805", "created": 1754352000, "display_name": "Claude Opus 4.1"},
    {"id": "claude-sonnet-4-5-20250929", "created": 1759104000, "display_name": "Sonnet 4.5"},
]
_SNAKE = re.compile(r"_([a-z])")

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def spawn_options(engine: AgentCli, session_id: str) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "cwd": engine.cwd,
        "config_path": engine.config_with_model(),
        "approval": "yes",
    }


def script_reply(fake: FakeUpstream) -> None:
    fake.enqueue(Reply(blocks=[Block(type="text", text=REPLY)], usage=USAGE))


def slow_reply() -> Reply:
    """A text stream of about ten seconds: long enough that only a cancel ends the turn fast."""
    chunks = [f"word{i} " for i in range(40)]
    return Reply(blocks=[Block(type="text", text="".join(chunks), chunks=chunks)], delay_s=0.25)


# -- running each wrapper ------------------------------------------------------------------
async def python_turn(engine: AgentCli, session_id: str) -> list[dict[str, Any]]:
    handle = await spawn_agent(**spawn_options(engine, session_id))
    return [camel(event) async for event in handle.submit(PROMPT)]


def run_node(script: str, engine: AgentCli, **extra: str) -> Any:
    """Run `wrapper_scripts/<script>` with the test's environment; returns its JSON output."""
    completed = subprocess.run(
        ["node", str(SCRIPTS / script)],
        env={**os.environ, **extra},
        cwd=engine.cwd,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.splitlines()[-1])


def node_turn_env(engine: AgentCli, session_id: str) -> dict[str, str]:
    return {
        "WRAPPER_SESSION_ID": session_id,
        "WRAPPER_CWD": str(engine.cwd),
        "WRAPPER_CONFIG": str(engine.config_with_model()),
        "WRAPPER_PROMPT": PROMPT,
    }


def camel(value: Any) -> Any:
    """A Python wrapper event under the TypeScript field names; engine data (`params`,
    `metadata`) is passed through unchanged by both wrappers and is left alone."""
    if not isinstance(value, dict):
        return value
    return {
        _SNAKE.sub(lambda m: m.group(1).upper(), key): (
            item if key in ("params", "metadata") else camel(item)
        )
        for key, item in value.items()
    }


def kinds(events: list[dict[str, Any]]) -> list[str]:
    """Event types in order (notifications by method), without the timing-driven `activity`."""
    return [
        f"notification:{e['method']}" if e["type"] == "notification" else e["type"]
        for e in events
        if e["type"] != "activity"
    ]


# -- what both wrappers must show -------------------------------------------------------------
def check_costed_turn(events: list[dict[str, Any]], session_id: str, fake: FakeUpstream) -> None:
    init, result = events[0], events[-1]
    assert init["type"] == "init" and init["sessionId"] == session_id
    assert init["engineInfo"]["protocolVersion"] == "0.3.0"
    assert init["engineInfo"]["engineVersion"] == "0.8.0"
    assert init["engineInfo"]["binaryPath"] == str(AGENT_BIN)

    notes = {e["method"]: e["params"] for e in events if e["type"] == "notification"}
    assert {"usage", "result/final"} <= set(notes)
    assert kinds(events).count("notification:result/final") == 1

    assert result["type"] == "result", result
    assert (result["text"], result["sessionId"]) == (REPLY, session_id)
    metadata = result["metadata"]
    cost = expected_cost(ROOT_MODEL, USAGE)
    assert (metadata["tokensIn"], metadata["tokensOut"]) == (1200, 80)
    assert Decimal(metadata["costUsd"]) == cost > 0
    assert (notes["usage"]["inputTokens"], notes["usage"]["outputTokens"]) == (1200, 80)
    assert Decimal(notes["usage"]["cost"]) == cost
    assert notes["result/final"]["text"] == REPLY
    assert Decimal(notes["result/final"]["usage"]["cost"]) == cost

    (request,) = fake.model_requests()
    users = [m for m in request.body["messages"] if m["role"] == "user"]
    assert message_text(users[-1]) == PROMPT


def message_text(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if block.get("type") == "text")


def check_cancelled(events: list[dict[str, Any]], elapsed_s: float, fake: FakeUpstream) -> None:
    assert elapsed_s < 10, f"cancel() took {elapsed_s:.1f} s"
    final = events[-1]
    assert [e["type"] for e in events].count("error") == 1
    # Exit 143: SIGTERM alone ended the engine, the SIGKILL fallback was never needed.
    assert (final["type"], final["code"], final["classification"]) == (
        "error",
        "engine_exit_143",
        "engine",
    )
    assert final["retryable"] is False
    assert "result" not in [e["type"] for e in events]
    (request,) = fake.model_requests()
    wait_for(lambda: request.outcome != "pending", timeout=5, message="the stream to end")
    assert request.outcome == "client_closed", "the engine kept reading the stream"


# -- the tests -------------------------------------------------------------------------------
async def test_python_wrapper_runs_a_costed_turn_on_the_real_engine(engine: AgentCli) -> None:
    script_reply(engine.fake)

    events = await python_turn(engine, "py-real-1")

    check_costed_turn(events, "py-real-1", engine.fake)
    assert engine.transcript("py-real-1")[-1]["role"] == "assistant"


@needs_node
async def test_typescript_wrapper_runs_the_same_turn_as_python(engine: AgentCli) -> None:
    script_reply(engine.fake)
    output = run_node("run_turn.mjs", engine, **node_turn_env(engine, "ts-real-1"))
    events = output["events"]
    check_costed_turn(events, "ts-real-1", engine.fake)
    assert output["engineInfo"] == events[0]["engineInfo"]

    engine.fake.reset()
    script_reply(engine.fake)
    python_events = await python_turn(engine, "py-real-2")

    assert kinds(events) == kinds(python_events)
    assert kinds(events)[0] == "init" and kinds(events)[-1] == "result"


async def test_python_cancel_stops_the_real_engine_mid_stream(engine: AgentCli) -> None:
    engine.fake.enqueue(slow_reply())
    handle = await spawn_agent(**spawn_options(engine, "py-cancel-1"))
    events: list[dict[str, Any]] = []
    elapsed: list[float] = []
    pids: list[tuple[int, int]] = []
    async for event in handle.submit("stream slowly"):
        events.append(event)
        if event["type"] == "notification" and event["method"] == "result/delta" and not pids:
            pids.extend(descendants_running("--session-id py-cancel-1 ", os.getpid()))
            started = time.monotonic()
            await asyncio.wait_for(handle.cancel(), timeout=15)
            elapsed.append(time.monotonic() - started)

    check_cancelled([camel(e) for e in events], elapsed[0], engine.fake)
    ((pid, pgid),) = pids
    assert pid == pgid, "the engine is not its own process group leader"
    assert not Path(f"/proc/{pid}").exists(), "the engine was left a zombie"
    assert group_gone(pgid)


@needs_node
def test_typescript_cancel_stops_the_real_engine_mid_stream(engine: AgentCli) -> None:
    engine.fake.enqueue(slow_reply())
    env = node_turn_env(engine, "ts-cancel-1") | {"WRAPPER_PROMPT": "stream slowly"}

    output = run_node("cancel_turn.mjs", engine, **env)

    cancel = output["cancel"]
    check_cancelled(output["events"], cancel["ms"] / 1000, engine.fake)
    assert isinstance(cancel["pid"], int) and cancel["pid"] == cancel["pgid"]
    assert cancel["inProcessTable"] is False, "the engine was left a zombie"
    assert cancel["groupMembers"] == []


async def test_python_list_models_reads_the_fake_anthropic_listing(engine: AgentCli) -> None:
    engine.fake.set_models(MODELS)

    listing = await list_models("anthropic")

    assert listing["provider"] == "anthropic"
    assert sorted(m["id"] for m in listing["models"]) == sorted(m["id"] for m in MODELS)
    assert [r.path for r in engine.fake.requests] == ["/v1/models"]


@needs_node
async def test_typescript_list_models_matches_python(engine: AgentCli) -> None:
    engine.fake.set_models(MODELS)

    listing = run_node("list_models.mjs", engine, WRAPPER_PROVIDER="anthropic")
    python_listing = await list_models("anthropic")

    assert listing["provider"] == "anthropic"
    assert sorted(m["id"] for m in listing["models"]) == sorted(m["id"] for m in MODELS)
    assert [r.path for r in engine.fake.requests] == ["/v1/models", "/v1/models"]
    without_time = {k: v for k, v in listing.items() if k != "fetched_at"}
    assert without_time == {k: v for k, v in python_listing.items() if k != "fetched_at"}


def _alive(pid: int) -> bool:
    """Running (a zombie left to PID 1 counts as gone: it holds nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


async def test_python_cancel_also_ends_an_mcp_server_that_ignores_sigterm(
    engine: AgentCli, tmp_path: Path
) -> None:
    pid_file = tmp_path / "mcp.pid"
    server = {
        "command": sys.executable,
        "args": [str(SCRIPTS / "stubborn_mcp_server.py")],
        "env": {"STUBBORN_PID_FILE": str(pid_file)},
    }
    engine.fake.enqueue(slow_reply())
    handle = await spawn_agent(
        **spawn_options(engine, "py-cancel-mcp"), mcp_servers={"stubborn": server}
    )
    engine_pids: list[tuple[int, int]] = []
    elapsed = 0.0
    async for event in handle.submit("stream slowly"):
        first_delta = event["type"] == "notification" and event["method"] == "result/delta"
        if first_delta and not engine_pids:
            engine_pids.extend(descendants_running("--session-id py-cancel-mcp ", os.getpid()))
            assert pid_file.exists(), "the MCP server should be running during the turn"
            started = time.monotonic()
            await asyncio.wait_for(handle.cancel(), timeout=15)
            elapsed = time.monotonic() - started

    ((engine_pid, pgid),) = engine_pids
    mcp_pid = int(pid_file.read_text())
    assert elapsed < 10
    wait_for(lambda: not _alive(mcp_pid), timeout=10, message="the MCP server to be gone")
    assert not Path(f"/proc/{engine_pid}").exists(), "the engine was left a zombie"
    assert group_gone(pgid)
