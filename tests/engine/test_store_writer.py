"""`StoreWriter`: writes run on one thread in submission order, their errors reach the caller,
and a cancellation never cuts a write short (it is held, or dropped for a turn's last write)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from amplifier_agent.engine.store_writer import StoreWriter, offload


@pytest.fixture
def writer() -> Iterator[StoreWriter]:
    writer = StoreWriter()
    yield writer
    writer.close()


async def test_writes_run_on_one_other_thread_in_submission_order(writer: StoreWriter) -> None:
    order: list[tuple[int, str]] = []

    def write(index: int) -> int:
        order.append((index, threading.current_thread().name))
        return index * 10

    results = await asyncio.gather(*(writer.write(write, i) for i in range(20)))
    assert results == [i * 10 for i in range(20)]
    assert [index for index, _ in order] == list(range(20))
    threads = {name for _, name in order}
    assert len(threads) == 1 and threading.current_thread().name not in threads


async def test_an_error_in_a_write_reaches_the_caller_unchanged(writer: StoreWriter) -> None:
    def failing() -> None:
        raise PermissionError(13, "Permission denied", "/x/ledger.jsonl")

    with pytest.raises(PermissionError) as caught:
        await writer.write(failing)
    assert caught.value.filename == "/x/ledger.jsonl"


async def test_without_a_writer_the_write_runs_in_the_calling_thread() -> None:
    assert await offload(None, threading.current_thread) is threading.current_thread()


async def started_blocked_write(
    writer: StoreWriter, last: bool
) -> tuple[asyncio.Task[str], threading.Event, list[str]]:
    """A task whose write blocks until the returned event is set, once that write has begun."""
    release, began = threading.Event(), threading.Event()
    after: list[str] = []

    def blocked() -> str:
        began.set()
        release.wait(10)
        return "written"

    async def turn() -> str:
        result = await (writer.write_last if last else writer.write)(blocked)
        after.append("returned")
        await asyncio.sleep(0)  # the caller's next suspension
        after.append("resumed")
        return result

    task = asyncio.create_task(turn())
    while not began.is_set():
        await asyncio.sleep(0.001)
    return task, release, after


async def test_a_cancellation_waits_for_the_write_then_reaches_the_next_suspension(
    writer: StoreWriter,
) -> None:
    task, release, after = await started_blocked_write(writer, last=False)
    task.cancel()
    task.cancel()
    await asyncio.sleep(0.01)
    assert not task.done()  # the write is still under way, so is its caller
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert after == ["returned"]


async def test_a_cancellation_during_the_last_write_of_a_turn_is_dropped(
    writer: StoreWriter,
) -> None:
    task, release, after = await started_blocked_write(writer, last=True)
    task.cancel()
    await asyncio.sleep(0.01)
    assert not task.done()
    release.set()
    assert await task == "written"
    assert after == ["returned", "resumed"]
    assert task.cancelling() == 0


async def test_close_waits_for_submitted_writes(writer: StoreWriter) -> None:
    done: list[int] = []
    futures = [writer.write(done.append, i) for i in range(3)]
    tasks = [asyncio.ensure_future(f) for f in futures]
    await asyncio.sleep(0)
    writer.close()
    assert done == [0, 1, 2]
    await asyncio.gather(*tasks)
