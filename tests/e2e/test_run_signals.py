"""SIGINT and SIGTERM during a turn: prompt exit, the partial turn persisted, no orphan process
(§7.1, §7.2, §8.9)."""

from __future__ import annotations

import contextlib
import os
import signal

from testkit import Block, Reply, reply_tool_calls
from tests.e2e.conftest import (
    AgentCli,
    RunResult,
    descendants_running,
    eventually,
    group_gone,
    wait_for,
)

SLOW_CHUNKS = ["partial ", "answer ", "that ", "never ", "ends ", *(["..."] * 40)]


def slow_reply() -> Reply:
    return Reply(blocks=[Block(type="text", chunks=SLOW_CHUNKS)], delay_s=0.25)


def signal_mid_stream(
    agent: AgentCli, session_id: str, marker: str, signum: int
) -> tuple[RunResult, float, float]:
    """Run a slow streamed turn, send `signum` once `marker` has streamed; (result, ended, sent)."""
    agent.fake.enqueue(slow_reply())
    config = str(agent.config_with_model())
    live = agent.spawn(
        "run", "-y", "--config", config, "--session-id", session_id,
        "--output", "json", "--display", "ndjson", "tell me",
    )  # fmt: skip
    try:
        live.wait_for_stderr(f'"text":"{marker} "')
        sent = live.signal(signum)
        result, ended = live.finish()
    finally:
        live.kill()
    return result, ended, sent


def test_sigint_during_a_stream_exits_130_and_persists_the_partial_turn(agent: AgentCli) -> None:
    result, ended, sent = signal_mid_stream(agent, "int1", "answer", signal.SIGINT)

    assert result.returncode == 130
    assert ended - sent < 2.0
    assert result.stderr.endswith("\n[info] Interrupted\n")
    assert result.stdout == ""
    transcript = agent.transcript("int1")
    assert transcript[0] == {**transcript[0], "role": "user", "content": "tell me"}
    assert transcript[-1]["role"] == "assistant"
    assert transcript[-1]["interrupted"] is True
    assert transcript[-1]["content"].startswith("partial answer ")
    (line,) = agent.ledger()
    assert (line["status"], line["sessionId"]) == ("cancelled", "int1")
    metadata = (agent.session_dir("int1") / "metadata.json").read_text()
    assert '"last_turn": "cancelled"' in metadata
    request = agent.fake.model_requests()[0]
    wait_for(lambda: request.outcome != "pending", timeout=5, message="the fake to see the close")
    assert request.outcome == "client_closed"


def test_sigint_during_bash_kills_its_process_group(agent: AgentCli) -> None:
    agent.fake.enqueue(reply_tool_calls(("call_sleep", "bash", {"command": "sleep 60; echo x"})))
    config = str(agent.config_with_model())
    live = agent.spawn("run", "-y", "--config", config, "--session-id", "int2", "go")
    groups: set[int] = set()
    try:
        sleepers = wait_for(
            lambda: descendants_running("sleep 60", live.pid), message="the bash tool's sleep"
        )
        groups = {pgid for _, pgid in sleepers}
        sent = live.signal(signal.SIGINT)
        result, ended = live.finish()
        gone = eventually(lambda: all(group_gone(g) for g in groups), timeout=2)
    finally:
        live.kill()
        for group in groups:  # never leave a sleeper behind, even when the test fails
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL) if not group_gone(group) else None

    assert result.returncode == 130, result.stderr
    assert ended - sent < 2.0
    (pgid,) = groups
    assert pgid != live.pid  # bash ran in its own group ...
    assert gone, "the bash tool's process group outlived the interrupted run"
    assert agent.transcript("int2")[-1]["tool_calls"][0]["id"] == "call_sleep"


def test_sigterm_exits_143_without_an_envelope(agent: AgentCli) -> None:
    result, ended, sent = signal_mid_stream(agent, "term1", "partial", signal.SIGTERM)

    assert result.returncode == 143
    assert ended - sent < 2.0
    assert result.stderr_lines[-1] == "[info] Terminated"
    assert result.stdout == ""
    assert agent.transcript("term1")[-1]["interrupted"] is True
    assert agent.ledger()[0]["status"] == "cancelled"
