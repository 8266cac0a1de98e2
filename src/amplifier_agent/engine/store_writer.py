"""Session and ledger I/O of a long-lived server, off its event loop.

Transcript appends, metadata and ledger lines are fsynced; on the loop, each would stall every
other request for the length of a disk flush. `StoreWriter` runs them on one thread, in the
order they were submitted (so the store sees exactly the sequence the loop decided), and the turn
awaits each one: a turn ends, and so its response can end, only after its record is on disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class StoreWriter:
    def __init__(self) -> None:
        # Imported here: one-turn processes (`run`) write in place and never start the thread.
        from concurrent.futures import ThreadPoolExecutor

        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")

    async def write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` on the writer thread; its result, or its exception.

        A write under way cannot be taken back, so a cancellation that arrives meanwhile is held
        until it has finished and then requested again: it reaches the caller at its next
        suspension, just where it would have if the write had run on the loop.
        """
        result, cancelled = await self._complete(fn, *args, **kwargs)
        task = asyncio.current_task()
        if cancelled and task is not None:
            for _ in range(cancelled):
                task.uncancel()
            task.cancel()
        return result

    async def write_last(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Like `write`, for the write that ends a turn: a cancellation that arrives meanwhile
        came too late to change how the turn ended, so it is dropped, exactly as if it had
        arrived just after the turn."""
        result, cancelled = await self._complete(fn, *args, **kwargs)
        task = asyncio.current_task()
        if task is not None:
            for _ in range(cancelled):
                task.uncancel()
        return result

    async def _complete(
        self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> tuple[T, int]:
        """The result of `fn`, and how many cancellations arrived while it ran."""
        future = asyncio.wrap_future(self._executor.submit(fn, *args, **kwargs))
        cancelled = 0
        while True:
            try:
                return await asyncio.shield(future), cancelled
            except asyncio.CancelledError:
                if future.cancelled():
                    raise
                cancelled += 1

    def close(self) -> None:
        """Wait for the writes already submitted, then stop the thread."""
        self._executor.shutdown(wait=True)


async def offload(
    writer: StoreWriter | None, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`fn` on `writer`'s thread (see `StoreWriter.write`); without a writer, right here."""
    if writer is None:
        return fn(*args, **kwargs)
    return await writer.write(fn, *args, **kwargs)


async def offload_last(
    writer: StoreWriter | None, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`fn` on `writer`'s thread (see `StoreWriter.write_last`); without a writer, right here."""
    if writer is None:
        return fn(*args, **kwargs)
    return await writer.write_last(fn, *args, **kwargs)
