"""`cancel()`: SIGTERM to the group, 5 s, SIGKILL to the group; it resolves even while a
grandchild holds the pipes, and no process of the turn survives it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

from amplifier_agent_py import spawn_agent
from helpers import SESSION, FakeEngine, is_reaped, is_running, notification

SLOW = {"delay_ms": 60_000, "stderr_lines": [notification("progress", message="working")]}


async def _wait_for_marker(fake: FakeEngine) -> dict[str, Any]:
    for _ in range(200):
        runs = [r for r in fake.records() if r["argv"][:1] == ["run"]]
        if runs:
            return runs[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the fake engine never started")


async def test_cancel_kills_a_grandchild_that_ignores_sigterm(fake: FakeEngine) -> None:
    fake.configure(**SLOW, grandchild={"ignore_sigterm": True, "sleep_s": 120})
    handle = await spawn_agent(session_id=SESSION)
    events: list[dict[str, Any]] = []
    cancelled_at: list[float] = []
    async for event in handle.submit("slow"):
        events.append(event)
        if event["type"] == "activity" and not cancelled_at:
            cancelled_at.append(time.monotonic())
            await asyncio.wait_for(handle.cancel(), timeout=10)
            cancelled_at.append(time.monotonic())
    record = fake.run_record()
    assert cancelled_at[1] - cancelled_at[0] < 10
    assert events[-1]["code"] == "engine_exit_143"
    assert events[-1]["retryable"] is False
    activity = [e for e in events if e["type"] == "activity"]
    assert activity and activity[0]["elapsed_ms"] >= 1900
    assert is_reaped(record["pid"]), "the engine process was left a zombie"
    # SIGKILL is delivered asynchronously: allow the rest of the 10 s budget for it to land.
    while is_running(record["grandchild_pid"]) and time.monotonic() - cancelled_at[0] < 10:
        await asyncio.sleep(0.02)
    assert not is_running(record["grandchild_pid"]), "the grandchild survived cancel()"


async def test_cancel_escalates_to_sigkill_after_five_seconds(fake: FakeEngine) -> None:
    fake.configure(**SLOW, on_sigterm="ignore")
    handle = await spawn_agent(session_id=SESSION)
    events = handle.submit("slow")
    record = await _wait_for_marker(fake)
    await asyncio.sleep(0.2)  # let the fake engine install its SIGTERM disposition
    started = time.monotonic()
    await handle.cancel()
    elapsed = time.monotonic() - started
    assert 4.5 < elapsed < 10
    collected = [event async for event in events]
    assert collected[-1]["code"] == "engine_exit_137"
    assert is_reaped(record["pid"])


async def test_cancel_resolves_while_a_grandchild_holds_the_pipes(fake: FakeEngine) -> None:
    # The engine exits at once but leaves a grandchild with its stdout and stderr open.
    fake.configure(grandchild={"ignore_sigterm": False, "sleep_s": 120})
    handle = await spawn_agent(session_id=SESSION)
    started = time.monotonic()
    events = [event async for event in handle.submit("quick")]
    assert time.monotonic() - started < 3
    assert events[-1]["type"] == "result"
    grandchild = fake.run_record()["grandchild_pid"]
    assert is_running(grandchild)  # a normal exit does not touch the rest of the group
    os.kill(grandchild, signal.SIGKILL)


async def test_leaving_the_iteration_early_cancels_the_turn(fake: FakeEngine) -> None:
    fake.configure(**SLOW)
    handle = await spawn_agent(session_id=SESSION)
    events = handle.submit("slow")
    async for event in events:
        if event["type"] == "notification":
            break
    await events.aclose()  # type: ignore[attr-defined]
    record = fake.run_record()
    assert is_reaped(record["pid"])


async def test_cancel_before_or_after_a_turn_is_a_no_op(fake: FakeEngine, tmp_path: Path) -> None:
    handle = await spawn_agent(session_id=SESSION)
    await handle.cancel()
    events = [event async for event in handle.submit("hi")]
    assert events[-1]["type"] == "result"
    await handle.cancel()
