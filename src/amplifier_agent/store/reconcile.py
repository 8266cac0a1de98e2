"""Client-wins reconciliation of a stored transcript with the history an HTTP client sends
(SPEC §8.9): the client's view is authoritative, our internal steps are kept where they agree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from amplifier_agent.core.messages import AssistantMessage, Message, ToolMessage, UserMessage
from amplifier_agent.store.projection import visible_projection


@dataclass(frozen=True, slots=True)
class Reconciled:
    """The history to continue from; `appended` are the client's messages new to the store;
    `diverged` means stored messages were replaced by the client's."""

    history: list[Message]
    appended: list[Message]
    diverged: bool


def reconcile(stored: Sequence[Message], client: Sequence[Message]) -> Reconciled:
    visible = _visible_runs(stored)
    matched = 0
    while matched < min(len(visible), len(client)) and same(visible[matched][1], client[matched]):
        matched += 1
    remainder = list(client[matched:])
    if matched == len(visible):
        return Reconciled([*stored, *remainder], remainder, diverged=False)
    cut = visible[matched][0]
    return Reconciled([*stored[:cut], *remainder], remainder, diverged=True)


def _visible_runs(stored: Sequence[Message]) -> list[tuple[int, Message]]:
    """The visible projection, each entry with the stored index where it starts.

    Consecutive assistant messages of one turn (separated only by internal tool steps) reach a
    client as one streamed message, so they are merged: texts concatenated, host calls joined.
    """
    runs: list[tuple[int, Message]] = []
    for index, message in enumerate(stored):
        for projected in visible_projection([message]):
            previous = runs[-1][1] if runs else None
            if isinstance(projected, AssistantMessage) and isinstance(previous, AssistantMessage):
                runs[-1] = (runs[-1][0], _merge(previous, projected))
            else:
                runs.append((index, projected))
    return runs


def _merge(first: AssistantMessage, second: AssistantMessage) -> AssistantMessage:
    return replace(
        first,
        content=first.content + second.content,
        tool_calls=first.tool_calls + second.tool_calls,
    )


def same(ours: Message, theirs: Message) -> bool:
    """Whether a client message says what our visible message said."""
    if isinstance(ours, UserMessage) and isinstance(theirs, UserMessage):
        return ours.content.strip() == theirs.content.strip()
    if isinstance(ours, ToolMessage) and isinstance(theirs, ToolMessage):
        return ours.tool_call_id == theirs.tool_call_id and ours.content == theirs.content
    if isinstance(ours, AssistantMessage) and isinstance(theirs, AssistantMessage):
        return ours.content.strip() == theirs.content.strip() and _calls(ours) == _calls(theirs)
    return False


def _calls(message: AssistantMessage) -> list[tuple[str, str, object]]:
    return [(c.id, c.name, c.as_object()) for c in message.tool_calls if c.host]
