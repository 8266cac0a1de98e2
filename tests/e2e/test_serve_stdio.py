"""`amplifier-agent serve stdio` as a host sees it: concurrent sessions, `turn/cancel`,
`session_busy`, bad input survived, end of input and SIGTERM during a turn, and every message it
writes valid against `conformance/schemas` (docs/wire.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit import Block, Reply, reply_text, reply_tool_calls
from tests.e2e.conftest import (
    AgentCli,
    descendants_running,
    eventually,
    group_gone,
    wait_for,
)
from tests.e2e.stdio_harness import StdioHost

CHUNKS_A = ["alpha ", "one ", "two ", "three ", "four ", "five ", "six ", "end"]
CHUNKS_B = ["bravo ", "one ", "two ", "end"]


def paced(chunks: list[str], delay_s: float) -> Reply:
    return Reply(blocks=[Block(type="text", chunks=chunks)], delay_s=delay_s)


def stalled() -> Reply:
    """A reply that streams two text deltas ("partial answer ") and then hangs for 30 s (an
    Anthropic stream opens with message_start, content_block_start and a ping)."""
    chunks = ["partial ", "answer ", "never ", "sent"]
    return Reply(blocks=[Block(type="text", chunks=chunks)], stall_after_events=5, stall_s=30)


@pytest.fixture
def host(agent: AgentCli) -> Iterator[StdioHost]:
    running = StdioHost(agent)
    yield running
    running.kill()
    assert running.schema_problems() == []


def deltas(host: StdioHost, session_id: str) -> str:
    notes = host.notifications(session_id)
    return "".join(n["params"]["text"] for n in notes if n["method"] == "result/delta")


def error_code(response: dict[str, Any]) -> str:
    assert "error" in response, response
    code: str = response["error"]["data"]["code"]
    return code


def ledger_status(agent: AgentCli, turn_id: str) -> str:
    records = [r for r in agent.ledger() if r["turnId"] == turn_id]
    assert len(records) == 1, agent.ledger()
    status: str = records[0]["status"]
    return status


def last_turn(agent: AgentCli, session_id: str) -> str:
    metadata = json.loads((agent.session_dir(session_id) / "metadata.json").read_text())
    value: str = metadata["last_turn"]
    return value


def test_two_sessions_run_interleaved_turns_with_tagged_notifications(
    host: StdioHost, agent: AgentCli
) -> None:
    agent.fake.enqueue(paced(CHUNKS_A, 0.3), paced(CHUNKS_B, 0.05))
    host.initialize("s-a")
    assert host.call("session/create", {"sessionId": "s-b"})["result"] == {"sessionId": "s-b"}

    first = host.submit("s-a", "turn-a", "tell a")
    host.wait_for_notification("result/delta", "s-a")
    second = host.submit("s-b", "turn-b", "tell b")

    assert host.response(second)["result"]["reply"] == "".join(CHUNKS_B)
    assert host.response(first)["result"]["reply"] == "".join(CHUNKS_A)
    assert deltas(host, "s-a") == "".join(CHUNKS_A)
    assert deltas(host, "s-b") == "".join(CHUNKS_B)
    for session_id, turn_id in (("s-a", "turn-a"), ("s-b", "turn-b")):
        assert {n["params"]["turnId"] for n in host.notifications(session_id)} == {turn_id}
    order = [n["params"]["sessionId"] for n in host.notifications()]
    first_a, last_a = order.index("s-a"), len(order) - 1 - order[::-1].index("s-a")
    assert "s-b" in order[first_a:last_a], "the second session's turn ran inside the first's"
    assert [m["role"] for m in agent.transcript("s-a")] == ["user", "assistant"]
    assert [m["role"] for m in agent.transcript("s-b")] == ["user", "assistant"]


def test_the_openai_provider_serves_turns_too(openai_agent: AgentCli) -> None:
    openai_agent.fake.enqueue(reply_text("first"), reply_text("second"))
    host = StdioHost(openai_agent)
    try:
        host.initialize("s-o")
        assert host.response(host.submit("s-o", "t1", "one"))["result"]["reply"] == "first"
        assert host.response(host.submit("s-o", "t2", "two"))["result"]["reply"] == "second"
        assert "first" in json.dumps(openai_agent.fake.model_requests()[1].body["messages"])
        host.close_stdin()
        assert host.finish() == 0
    finally:
        host.kill()
    assert host.schema_problems() == []


def test_a_cancelled_turn_stops_fast_is_recorded_and_the_other_session_completes(
    host: StdioHost, agent: AgentCli
) -> None:
    agent.fake.enqueue(stalled(), paced(CHUNKS_B, 0.05), reply_text("after"))
    host.initialize("s-a")
    host.call("session/create", {"sessionId": "s-b"})
    slow = host.submit("s-a", "turn-a", "take your time")
    host.wait_for_notification("result/delta", "s-a")
    other = host.submit("s-b", "turn-b", "quick one")

    sent = time.monotonic()
    cancel = host.send("turn/cancel", {"sessionId": "s-a", "turnId": "turn-a"})
    cancelled = host.response(slow)
    ended = time.monotonic()

    assert ended - sent < 1.0
    assert error_code(cancelled) == "cancelled"
    assert cancelled["error"]["code"] == -32000
    result = host.response(cancel)["result"]
    assert result == {"sessionId": "s-a", "turnId": "turn-a", "cancelled": True}
    assert agent.fake.model_requests()[0].outcome == "client_closed"
    assert ledger_status(agent, "turn-a") == "cancelled"
    assert last_turn(agent, "s-a") == "cancelled"
    transcript = agent.transcript("s-a")
    assert transcript[0]["content"] == "take your time"
    assert transcript[-1] == {**transcript[-1], "content": "partial answer ", "interrupted": True}
    assert "result/final" not in [n["method"] for n in host.notifications("s-a")]

    assert host.response(other)["result"]["reply"] == "".join(CHUNKS_B)
    again = host.response(host.submit("s-a", "turn-a2", "and now?"))
    assert again["result"]["reply"] == "after"
    idle = host.call("turn/cancel", {"sessionId": "s-a"})["result"]
    assert idle == {"sessionId": "s-a", "turnId": None, "cancelled": False}


def test_cancel_during_bash_kills_its_process_group(host: StdioHost, agent: AgentCli) -> None:
    agent.fake.enqueue(reply_tool_calls(("call_sleep", "bash", {"command": "sleep 47; echo x"})))
    host.initialize("s-a")
    turn = host.submit("s-a", "turn-1", "sleep")
    sleepers = wait_for(
        lambda: descendants_running("sleep 47", host.pid), message="the bash tool's sleep"
    )

    host.call("turn/cancel", {"sessionId": "s-a"})

    assert error_code(host.response(turn)) == "cancelled"
    assert eventually(lambda: all(group_gone(pgid) for _, pgid in sleepers), timeout=1)
    assert host.process.poll() is None


def test_a_second_turn_on_a_busy_session_is_refused(host: StdioHost, agent: AgentCli) -> None:
    agent.fake.enqueue(stalled())
    host.initialize("s-a")
    first = host.submit("s-a", "turn-1", "slow")
    wait_for(lambda: agent.fake.model_requests(), message="the first model call")

    busy = host.response(host.submit("s-a", "turn-2", "me too"))

    assert busy["error"]["code"] == -32000
    assert error_code(busy) == "session_busy"
    assert len(agent.fake.model_requests()) == 1
    host.call("turn/cancel", {"sessionId": "s-a", "turnId": "turn-1"})
    assert error_code(host.response(first)) == "cancelled"


def test_bad_lines_are_answered_and_the_process_keeps_serving(
    host: StdioHost, agent: AgentCli
) -> None:
    early = host.call("cache/info")
    host.write(b"this is not json\n")
    host.write(b'{"jsonrpc":"2.0","id":"no-method"}\n')
    host.write(b"x" * (16 * 1024 * 1024 + 10) + b"\n")
    unknown = host.call("turn/telepathy")
    host.initialize("s-a")
    agent.fake.enqueue(reply_text("still here"))

    turn = host.response(host.submit("s-a", "turn-1", "hello"))

    assert error_code(early) == "agent_not_ready"
    assert unknown["error"] == {"code": -32601, "message": "method not found: turn/telepathy"}
    anonymous = [m["error"] for m in host.snapshot() if "id" in m and m["id"] is None]
    assert [e["code"] for e in anonymous] == [-32700, -32600]
    assert "16777216 bytes" in anonymous[1]["message"]
    assert host.response("no-method")["error"]["code"] == -32600
    assert turn["result"]["reply"] == "still here"


def test_end_of_input_lets_a_running_turn_finish_then_exits_0(
    host: StdioHost, agent: AgentCli
) -> None:
    agent.fake.enqueue(paced(CHUNKS_B, 0.2))
    host.initialize("s-a")
    turn = host.submit("s-a", "turn-1", "finish me")
    host.wait_for_notification("result/delta", "s-a")

    host.close_stdin()

    assert host.finish() == 0
    assert host.response(turn)["result"]["reply"] == "".join(CHUNKS_B)
    assert ledger_status(agent, "turn-1") == "completed"
    assert [m["role"] for m in agent.transcript("s-a")] == ["user", "assistant"]


@pytest.mark.parametrize(
    ("how", "drain_s"),
    # A second signal ends even a drain that would outlast the reply's 30 s stall.
    [("eof", "0.2"), ("sigterm", "0.2"), ("sigterm twice", "120")],
)
def test_a_turn_outlasting_the_drain_is_cancelled_recorded_and_the_exit_is_0(
    agent: AgentCli, how: str, drain_s: str
) -> None:
    agent.fake.enqueue(stalled())
    host = StdioHost(agent, env=agent.env(AMPLIFIER_AGENT_STDIO_DRAIN_TIMEOUT_S=drain_s))
    try:
        host.initialize("s-a")
        turn = host.submit("s-a", "turn-1", "never ends")
        host.wait_for_notification("result/delta", "s-a")
        if how == "eof":
            host.close_stdin()
        else:
            host.process.send_signal(signal.SIGTERM)
        if how == "sigterm twice":
            # Two signals sent at once may arrive as one: the second goes once the first is seen.
            wait_for(lambda: "a second signal cancels" in host.stderr, message="the notice")
            host.process.send_signal(signal.SIGTERM)
        assert host.finish(timeout=15) == 0
    finally:
        host.kill()

    assert error_code(host.response(turn)) == "agent_not_ready"
    assert ledger_status(agent, "turn-1") == "shutdown"
    assert last_turn(agent, "s-a") == "cancelled"
    transcript = agent.transcript("s-a")
    assert transcript[0]["content"] == "never ends"
    assert transcript[-1]["interrupted"] is True
    assert host.schema_problems() == []


def test_nothing_is_written_before_the_first_request_and_agent_shutdown_ends_the_process(
    agent: AgentCli,
) -> None:
    host = StdioHost(agent)
    try:
        assert not eventually(lambda: host.raw_stdout, timeout=0.5)
        host.initialize("s-a")
        # What the agent's child processes inherit: no requests to read, no protocol to write.
        fds = Path(f"/proc/{host.pid}/fd")
        assert os.readlink(fds / "0") == "/dev/null"
        assert os.readlink(fds / "1") == os.readlink(fds / "2")
        assert host.call("agent/shutdown")["result"] == {}
        assert host.finish() == 0
    finally:
        host.kill()
    assert host.schema_problems() == []


def imported_modules(agent: AgentCli, stdin: str) -> set[str]:
    """The modules a `serve stdio` process imported while answering `stdin` (then EOF)."""
    argv = [sys.executable, "-X", "importtime", "-m", "amplifier_agent", "serve", "stdio", "-y"]
    result = subprocess.run(
        argv, input=stdin, env=agent.env(), cwd=agent.cwd, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if "|" in line}


def test_the_engine_loads_at_the_first_request_and_a_provider_sdk_at_the_first_turn(
    agent: AgentCli,
) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "0.3.0"}}  # fmt: skip

    idle = imported_modules(agent, "")
    initialized = imported_modules(agent, json.dumps(initialize) + "\n")

    assert "amplifier_agent.wire.stdio" in idle
    assert "amplifier_agent.engine" not in idle
    assert "amplifier_agent.engine" in initialized
    assert {"anthropic", "openai"}.isdisjoint(initialized)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["-y", "-n"], "-y and -n are mutually exclusive"),
        (["--cwd", "/no/such/dir"], "[error] argv_path_unreadable: --cwd /no/such/dir"),
        (["--config", "/no/such/config.json"], "[error] config_"),
        (["--workspace", "../up"], "[error] argv_workspace_invalid"),
    ],
)
def test_bad_process_options_exit_2_before_reading_anything(
    agent: AgentCli, args: list[str], said: str
) -> None:
    result = agent.run("serve", "stdio", *args, input='{"jsonrpc":"2.0","id":1,"method":"x"}\n')

    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert said in result.stderr
    assert "Traceback" not in result.stderr
