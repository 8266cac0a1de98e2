"""The seam through which metrics and traces watch a turn: the loop hands every model call's
event stream and every tool call to one `TurnObserver`, which never changes what they do.

`NO_OBSERVER` costs nothing (the stream is returned as is); `chain` combines several.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Protocol

from amplifier_agent.core.stream import StreamEvent


@dataclass(frozen=True, slots=True)
class ModelCallInfo:
    """Who a model call goes to. `agent_name` is None for the turn's own agent."""

    provider_id: str
    model: str
    agent_name: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallInfo:
    """A tool call about to run; `known` says whether the name is one of the turn's tools (a
    model may name any tool, so an unknown name is the model's text, not ours)."""

    name: str
    call_id: str
    known: bool
    agent_name: str | None = None


@dataclass(slots=True)
class ToolOutcome:
    """Filled in by the caller before the observed block ends."""

    is_error: bool = False


class TurnObserver(Protocol):
    def model_call(
        self, info: ModelCallInfo, events: AsyncIterator[StreamEvent]
    ) -> AsyncIterator[StreamEvent]:
        """The call's events, passed through unchanged (and watched)."""
        ...

    def tool_call(self, info: ToolCallInfo) -> AbstractContextManager[ToolOutcome]:
        """A block around running the tool; the caller sets the outcome inside it."""
        ...


class _NoObserver:
    def model_call(
        self, info: ModelCallInfo, events: AsyncIterator[StreamEvent]
    ) -> AsyncIterator[StreamEvent]:
        return events

    @contextmanager
    def tool_call(self, info: ToolCallInfo) -> Iterator[ToolOutcome]:
        yield ToolOutcome()


NO_OBSERVER: TurnObserver = _NoObserver()


@dataclass(frozen=True, slots=True)
class _Chain:
    observers: tuple[TurnObserver, ...]

    def model_call(
        self, info: ModelCallInfo, events: AsyncIterator[StreamEvent]
    ) -> AsyncIterator[StreamEvent]:
        for observer in self.observers:
            events = observer.model_call(info, events)
        return events

    @contextmanager
    def tool_call(self, info: ToolCallInfo) -> Iterator[ToolOutcome]:
        outcome = ToolOutcome()
        with ExitStack() as stack:
            inner = [stack.enter_context(o.tool_call(info)) for o in self.observers]
            yield outcome
            for each in inner:
                each.is_error = outcome.is_error


def chain(observers: Sequence[TurnObserver | None]) -> TurnObserver:
    """One observer for all of `observers` (None entries skipped)."""
    present = tuple(o for o in observers if o is not None and o is not NO_OBSERVER)
    if not present:
        return NO_OBSERVER
    if len(present) == 1:
        return present[0]
    return _Chain(present)
