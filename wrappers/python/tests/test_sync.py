"""`spawn_agent_sync`: the same turn for callers without an event loop."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from amplifier_agent_py import AgentError, spawn_agent, spawn_agent_sync
from helpers import SESSION, FakeEngine, is_running, notification


def test_sync_turn(fake: FakeEngine) -> None:
    fake.configure(
        stderr_lines=[
            notification("result/delta", text="do"),
            notification("result/final", text="done"),
        ]
    )
    with spawn_agent_sync(session_id=SESSION) as agent:
        assert agent.get_engine_info().protocol_version == "0.3.0"
        events = list(agent.submit("hi"))
    assert [e["type"] for e in events] == ["init", "notification", "notification", "result"]
    assert events[-1]["text"] == "done"


def test_sync_errors_raise_at_spawn(fake: FakeEngine) -> None:
    with pytest.raises(AgentError) as caught, spawn_agent_sync(session_id="../x"):
        pass
    assert caught.value.code == "invalid_session"


def test_sync_cancel_from_another_thread(fake: FakeEngine) -> None:
    fake.configure(delay_ms=60_000)
    with spawn_agent_sync(session_id=SESSION) as agent:
        timer = threading.Timer(0.5, agent.cancel)
        started = time.monotonic()
        timer.start()
        events = list(agent.submit("slow"))
        timer.join()
    assert time.monotonic() - started < 5
    assert events[-1]["code"] == "engine_exit_143"


def test_leaving_the_context_cancels_a_running_turn(fake: FakeEngine) -> None:
    fake.configure(delay_ms=60_000)
    started = time.monotonic()
    with spawn_agent_sync(session_id=SESSION) as agent:
        events = agent.submit("slow")
        assert next(events)["type"] == "init"
        while not fake.records()[1:]:
            time.sleep(0.02)
    assert time.monotonic() - started < 5
    record = fake.run_record()
    with pytest.raises(ProcessLookupError):
        os.kill(record["pid"], 0)


def test_a_turn_abandoned_when_its_loop_ends_is_killed(fake: FakeEngine) -> None:
    fake.configure(delay_ms=60_000)

    async def main() -> None:
        handle = await spawn_agent(session_id=SESSION)
        events = handle.submit("slow")
        assert (await events.__anext__())["type"] == "init"
        while not fake.records()[1:]:
            await asyncio.sleep(0.02)

    asyncio.run(main())  # cancels the still-running turn task on the way out
    pid = fake.run_record()["pid"]
    deadline = time.monotonic() + 5
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not is_running(pid)


def test_sync_persistent_turns_share_one_engine_stopped_on_exit(fake: FakeEngine) -> None:
    fake.configure(stdio={"turns": [{"reply": "kept"}]})
    with spawn_agent_sync(session_id=SESSION, lifecycle="persistent") as agent:
        turns = [list(agent.submit(f"turn {i}")) for i in range(2)]
    assert [t[-1]["text"] for t in turns] == ["kept", "kept"]
    (record,) = [r for r in fake.records() if r["argv"][:2] == ["serve", "stdio"]]
    deadline = time.monotonic() + 5
    while is_running(record["pid"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not is_running(record["pid"]), "leaving the context left the engine running"
