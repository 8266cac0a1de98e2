"""The visible projection: what an HTTP client saw of a stored transcript (SPEC §8.9)."""

from __future__ import annotations

from amplifier_agent.core.messages import (
    AssistantMessage,
    Message,
    ThinkingBlock,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from amplifier_agent.store.projection import visible_projection

BASH = ToolCall("b1", "bash", {"command": "ls"})
BROWSER = ToolCall("h1", "open_browser", {"url": "https://x"}, host=True)


def test_projection_keeps_only_what_the_client_saw() -> None:
    stored: list[Message] = [
        UserMessage("do it"),
        AssistantMessage("", thinking=(ThinkingBlock("plan"),), tool_calls=(BASH,)),
        ToolMessage("b1", "bash", "files", internal=True),
        AssistantMessage("opening", thinking=(ThinkingBlock("more"),), tool_calls=(BASH, BROWSER)),
        ToolMessage("b1", "bash", "again", internal=True),
        ToolMessage("h1", "open_browser", "opened"),
        AssistantMessage("done"),
    ]
    assert visible_projection(stored) == [
        UserMessage("do it"),
        AssistantMessage("opening", tool_calls=(BROWSER,)),
        ToolMessage("h1", "open_browser", "opened"),
        AssistantMessage("done"),
    ]


def test_host_call_without_text_stays_visible() -> None:
    stored: list[Message] = [AssistantMessage("", tool_calls=(BROWSER,))]
    assert visible_projection(stored) == stored


def test_thinking_only_assistant_disappears() -> None:
    assert visible_projection([AssistantMessage("", (ThinkingBlock("x"),))]) == []


def test_projection_does_not_modify_its_input() -> None:
    stored: list[Message] = [AssistantMessage("a", (ThinkingBlock("x"),), (BASH,))]
    visible_projection(stored)
    assert stored == [AssistantMessage("a", (ThinkingBlock("x"),), (BASH,))]
