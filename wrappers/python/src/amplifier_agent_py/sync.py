"""`spawn_agent_sync`: the async API driven from a private event-loop thread, for sync callers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from amplifier_agent_py.agent import AgentHandle, spawn_agent
from amplifier_agent_py.discovery import EngineInfo
from amplifier_agent_py.outcome import Event
from amplifier_agent_py.persistent import PersistentAgentHandle

T = TypeVar("T")


class _LoopThread:
    """A daemon thread running one event loop, so `cancel()` works from any thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="amplifier-agent-py", daemon=True
        )
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    @property
    def closed(self) -> bool:
        return self._loop.is_closed()

    def stop(self) -> None:
        self.call(self._loop.shutdown_asyncgens())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class SyncAgentHandle:
    """The blocking face of `AgentHandle`."""

    def __init__(self, handle: AgentHandle | PersistentAgentHandle, runner: _LoopThread) -> None:
        self._handle = handle
        self._runner = runner

    @property
    def session_id(self) -> str:
        return self._handle.session_id

    def get_engine_info(self) -> EngineInfo:
        return self._handle.get_engine_info()

    def submit(self, prompt: str) -> Iterator[Event]:
        """Start the turn (errors such as a second submit raise here) and iterate its events."""
        events = self._runner.call(_submit(self._handle, prompt))
        return self._iterate(events)

    def cancel(self) -> None:
        self._runner.call(self._handle.cancel())

    def _iterate(self, events: AsyncIterator[Event]) -> Iterator[Event]:
        try:
            while True:
                try:
                    yield self._runner.call(_next(events))
                except StopAsyncIteration:
                    return
        finally:
            if not self._runner.closed:  # after the context exited, cancel() already ran
                self._runner.call(_close(events))


async def _submit(handle: AgentHandle | PersistentAgentHandle, prompt: str) -> AsyncIterator[Event]:
    return handle.submit(prompt)  # submit needs the loop thread's running loop


async def _next(events: AsyncIterator[Event]) -> Event:
    return await events.__anext__()


async def _close(events: AsyncIterator[Event]) -> None:
    closer = getattr(events, "aclose", None)
    if closer is not None:
        await closer()


@contextmanager
def spawn_agent_sync(**options: Any) -> Iterator[SyncAgentHandle]:
    """`with spawn_agent_sync(session_id=...) as agent:`; takes `spawn_agent`'s keywords,
    cancels a still-running turn on exit and stops a persistent engine."""
    runner = _LoopThread()
    try:
        handle = runner.call(spawn_agent(**options))
        try:
            yield SyncAgentHandle(handle, runner)
        finally:
            runner.call(handle.close())
    finally:
        runner.stop()
