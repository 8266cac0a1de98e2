"""The visible projection of a stored transcript (SPEC §8.9): the history as an HTTP client saw
it, which reconciliation compares with the client's own history."""

from __future__ import annotations

from collections.abc import Iterable

from amplifier_agent.core.messages import AssistantMessage, Message, ToolMessage


def visible_projection(messages: Iterable[Message]) -> list[Message]:
    """Drop internal tool results; keep only text and host calls of assistant messages.

    Thinking and built-in calls never reach the client, and an assistant message left with no
    text and no host call was never visible at all, so it is dropped.
    """
    visible: list[Message] = []
    for message in messages:
        if isinstance(message, ToolMessage):
            if not message.internal:
                visible.append(message)
        elif isinstance(message, AssistantMessage):
            projected = _visible_assistant(message)
            if projected is not None:
                visible.append(projected)
        else:
            visible.append(message)
    return visible


def _visible_assistant(message: AssistantMessage) -> AssistantMessage | None:
    host_calls = tuple(call for call in message.tool_calls if call.host)
    if not message.content and not host_calls:
        return None
    return AssistantMessage(
        content=message.content, tool_calls=host_calls, interrupted=message.interrupted
    )
