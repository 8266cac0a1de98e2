"""The persistent lifecycle against the scripted fake engine's `serve stdio`: many turns on one
process, cancel and timeout, restart after the engine is killed, and no engine left behind when
the host itself is killed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent_py import AgentError, PersistentAgentHandle, spawn_agent
from helpers import SESSION, FakeEngine, collect, is_running

USAGE = {"inputTokens": 3, "outputTokens": 2, "cacheReadTokens": 4, "cacheWriteTokens": 0}
TURN = {
    "notifications": [{"method": "result/delta", "params": {"text": "hi"}}],
    "reply": "hi",
    "usage": {**USAGE, "cost": "0.0001"},
}
SLOW = {**TURN, "delay_ms": 60_000}


async def persistent(**options: Any) -> PersistentAgentHandle:
    handle = await spawn_agent(session_id=SESSION, lifecycle="persistent", **options)
    assert isinstance(handle, PersistentAgentHandle)
    return handle


def serve_records(fake: FakeEngine) -> list[dict[str, Any]]:
    return [r for r in fake.records() if r["argv"][:2] == ["serve", "stdio"]]


async def wait_until(predicate: Any, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_every_turn_runs_on_one_engine_process(fake: FakeEngine, tmp_path: Path) -> None:
    fake.configure(stdio={"turns": [TURN]})
    async with await persistent(cwd=tmp_path, approval="no", workspace="w1") as handle:
        turns = [await collect(handle.submit(f"prompt {i}")) for i in range(3)]
    for index, events in enumerate(turns, start=1):
        assert [e["type"] for e in events] == ["init", "notification", "notification", "result"]
        assert [e["params"]["turnId"] for e in events[1:3]] == [f"turn-{index}"] * 2
        result = events[-1]
        assert (result["text"], result["session_id"]) == ("hi", SESSION)
        metadata = result["metadata"]
        assert (metadata["tokensIn"], metadata["tokensOut"], metadata["costUsd"]) == (
            7,
            2,
            "0.0001",
        )
        assert metadata["engineVersion"] == "0.8.0"
    (record,) = serve_records(fake)
    assert record["argv"] == ["serve", "stdio", "--cwd", str(tmp_path), "--workspace", "w1", "-n"]
    assert record["pid"] == record["pgid"] == record["sid"]
    await wait_until(lambda: not is_running(record["pid"]))


async def test_a_json_rpc_error_is_the_turns_error_event(fake: FakeEngine) -> None:
    data = {"code": "runtime", "classification": "engine", "message": "upstream_timeout: slow"}
    error = {"code": -32000, "message": data["message"], "data": data}
    fake.configure(stdio={"turns": [{"error": error}, TURN]})
    async with await persistent() as handle:
        failed = await collect(handle.submit("one"))
        succeeded = await collect(handle.submit("two"))
    assert failed[-1]["type"] == "error"
    assert (failed[-1]["code"], failed[-1]["message"], failed[-1]["retryable"]) == (
        "runtime",
        "upstream_timeout: slow",
        True,
    )
    assert succeeded[-1]["type"] == "result"


async def test_a_second_turn_while_one_runs_is_refused(fake: FakeEngine) -> None:
    fake.configure(stdio={"turns": [SLOW]})
    async with await persistent() as handle:
        events = handle.submit("slow")
        with pytest.raises(AgentError) as caught:
            handle.submit("again")
        assert caught.value.code == "session_busy"
        await handle.cancel()
        assert (await collect(events))[-1]["code"] == "cancelled"


async def test_cancel_ends_the_turn_and_the_engine_serves_the_next(fake: FakeEngine) -> None:
    fake.configure(stdio={"turns": [{**SLOW, "prompt": "slow"}, {**TURN, "prompt": "next"}]})
    async with await persistent() as handle:
        events = handle.submit("slow")
        seen = [await events.__anext__(), await events.__anext__()]
        assert seen[1]["method"] == "result/delta"  # the engine is running the turn
        await asyncio.wait_for(handle.cancel(), 5)
        cancelled = [*seen, *await collect(events)]
        following = await collect(handle.submit("next"))
    assert cancelled[-1]["type"] == "error" and cancelled[-1]["code"] == "cancelled"
    assert following[-1]["type"] == "result"
    assert len(serve_records(fake)) == 1


async def test_timeout_cancels_the_turn_as_engine_hung(fake: FakeEngine) -> None:
    fake.configure(stdio={"turns": [SLOW]})
    async with await persistent(timeout_ms=300) as handle:
        events = await collect(handle.submit("slow"))
    assert (events[-1]["code"], events[-1]["retryable"]) == ("engine_hung", True)


async def test_a_killed_engine_fails_its_turn_and_the_next_turn_restarts_it(
    fake: FakeEngine,
) -> None:
    # Chosen by prompt: the restarted engine must not replay the slow turn.
    fake.configure(stdio={"turns": [{**SLOW, "prompt": "slow"}, {**TURN, "prompt": "again"}]})
    async with await persistent() as handle:
        events = handle.submit("slow")
        await wait_until(lambda: handle.engine_pid is not None)
        first_pid = handle.engine_pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        failed = await asyncio.wait_for(collect(events), 10)
        following = await collect(handle.submit("again"))
        second_pid = handle.engine_pid
    error = failed[-1]
    assert (error["type"], error["code"], error["classification"]) == (
        "error",
        "engine_exit_137",
        "engine",
    )
    assert "next turn starts a new one" in error["message"]
    assert following[-1]["type"] == "result"
    assert second_pid not in (None, first_pid)
    assert [r["pid"] for r in serve_records(fake)] == [first_pid, second_pid]


HOST = """
import asyncio, sys
from amplifier_agent_py import spawn_agent

async def main():
    handle = await spawn_agent(session_id="host-1", lifecycle="persistent")
    events = handle.submit("slow")
    await events.__anext__()
    while handle.engine_pid is None:
        await asyncio.sleep(0.01)
    print(handle.engine_pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_no_engine_survives_its_host_killed_with_sigkill(fake: FakeEngine) -> None:
    fake.configure(stdio={"turns": [SLOW]})
    host = subprocess.Popen(
        [sys.executable, "-c", HOST], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert host.stdout is not None
        engine_pid = int(host.stdout.readline())
        assert is_running(engine_pid)
    finally:
        host.kill()
        host.wait()
    deadline = time.monotonic() + 5
    while is_running(engine_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not is_running(engine_pid), "the engine outlived its host"


async def test_initialize_failure_is_the_first_turns_error(fake: FakeEngine) -> None:
    data = {"code": "session_not_found", "classification": "protocol", "message": "no session"}
    error = {"code": -32000, "message": "no session", "data": data}
    fake.configure(stdio={"initialize_error": error})
    async with await persistent(resume=True) as handle:
        events = await collect(handle.submit("hello"))
    assert [e["type"] for e in events] == ["init", "error"]
    assert events[-1]["code"] == "session_not_found"
    record = serve_records(fake)[0]
    assert "--resume" not in record["argv"]


async def test_display_on_event_receives_the_notifications(fake: FakeEngine) -> None:
    fake.configure(stdio={"turns": [TURN]})
    seen: list[dict[str, Any]] = []
    async with await persistent(display={"on_event": seen.append}) as handle:
        events = await collect(handle.submit("hi"))
    assert [e["type"] for e in events] == ["init", "result"]
    assert [e["method"] for e in seen] == ["result/delta", "result/final"]
    assert json.dumps(seen[1]["params"]["usage"]) == json.dumps({**USAGE, "cost": "0.0001"})
