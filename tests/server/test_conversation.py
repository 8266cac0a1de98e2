"""Request messages to prompt, history and system containment (SPEC §8.5)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from amplifier_agent.core.messages import (
    AssistantMessage,
    ThinkingBlock,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from amplifier_agent.server.chat_messages import ChatMessage, ChatToolCall, ContentPart
from amplifier_agent.server.chat_request import parse_chat_request
from amplifier_agent.server.conversation import (
    CONTAINMENT_HEADER,
    Conversation,
    to_conversation,
)
from amplifier_agent.server.errors import HttpError


def convert(*messages: dict[str, Any]) -> Conversation:
    """Parse through the real request parser, then convert."""
    raw = orjson.dumps({"model": "m", "messages": list(messages)})
    return to_conversation(parse_chat_request(raw).messages)


def call(call_id: str, name: str, arguments: str = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_a_final_user_message_is_the_prompt() -> None:
    result = convert(
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": "second"},
    )
    assert result == Conversation(
        containment=None,
        history=(UserMessage("first"), AssistantMessage("answer")),
        prompt=UserMessage("second"),
    )


def test_a_single_user_message() -> None:
    assert convert({"role": "user", "content": "hi"}) == Conversation(None, (), UserMessage("hi"))


def test_tool_results_make_a_continuation_without_a_prompt() -> None:
    result = convert(
        {"role": "user", "content": "open it"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call("toolu_1", "open_browser", '{"url":"https://x"}')],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "opened"},
    )
    assert result.prompt is None
    assert result.history == (
        UserMessage("open it"),
        AssistantMessage(
            "",
            tool_calls=(ToolCall("toolu_1", "open_browser", {"url": "https://x"}, host=True),),
        ),
        ToolMessage("toolu_1", "open_browser", "opened"),
    )


def test_unanswered_tool_calls_are_a_continuation_too() -> None:
    result = convert(
        {"role": "user", "content": "go"},
        {"role": "assistant", "tool_calls": [call("c1", "f")]},
    )
    assert result.prompt is None
    assert result.history[-1] == AssistantMessage(tool_calls=(ToolCall("c1", "f", {}, host=True),))


def test_ending_in_a_plain_assistant_message_is_refused() -> None:
    with pytest.raises(HttpError) as caught:
        convert(
            {"role": "system", "content": "s"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
            {"role": "system", "content": "late"},
        )
    error = caught.value
    assert (error.status, error.code, error.param) == (400, "invalid_value", "messages[2]")


def test_ending_in_an_assistant_message_with_empty_tool_calls_is_refused() -> None:
    with pytest.raises(HttpError) as caught:
        convert({"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": []})
    assert (caught.value.code, caught.value.param) == ("invalid_value", "messages[1]")


def test_only_system_messages_are_refused() -> None:
    with pytest.raises(HttpError) as caught:
        convert({"role": "system", "content": "s"}, {"role": "developer", "content": "d"})
    assert (caught.value.code, caught.value.param) == ("invalid_value", "messages")


def test_a_user_message_before_trailing_system_messages_is_still_the_prompt() -> None:
    result = convert({"role": "user", "content": "q"}, {"role": "system", "content": "s"})
    assert result.prompt == UserMessage("q")
    assert result.history == ()


def test_system_and_developer_messages_are_contained_in_one_user_message() -> None:
    result = convert(
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "q1"},
        {
            "role": "developer",
            "content": [{"type": "text", "text": "Use"}, {"type": "text", "text": "tabs."}],
        },
        {"role": "assistant", "content": "a1"},
        {"role": "system", "content": "   "},
        {"role": "user", "content": "q2"},
    )
    assert result.containment == UserMessage(
        "<user_provided_instructions>\n"
        + CONTAINMENT_HEADER
        + "\n\n---\n\nBe terse.\n\n---\n\nUse tabs.\n</user_provided_instructions>"
    )
    assert result.history == (UserMessage("q1"), AssistantMessage("a1"))
    assert result.prompt == UserMessage("q2")


def test_containment_header_is_one_line_about_subordinate_user_notes() -> None:
    assert "\n" not in CONTAINMENT_HEADER
    assert "subordinate" in CONTAINMENT_HEADER
    assert "user" in CONTAINMENT_HEADER


def test_parts_join_with_a_space_and_other_types_are_omitted() -> None:
    result = convert(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look at"},
                {"type": "image_url", "image_url": {"url": "data:..."}},
                {"type": "text", "text": "and"},
                {"type": "input_audio"},
            ],
        }
    )
    assert result.prompt == UserMessage("look at [image_url omitted] and [input_audio omitted]")
    assert convert({"role": "user", "content": []}).prompt == UserMessage("")


def test_assistant_content_null_absent_and_parts() -> None:
    result = convert(
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": None},
        {"role": "user", "content": "b"},
        {"role": "assistant"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": [{"type": "text", "text": "x"}, {"type": "refusal"}]},
        {"role": "user", "content": "d"},
    )
    assert [m.content for m in result.history if isinstance(m, AssistantMessage)] == [
        "",
        "",
        "x [refusal omitted]",
    ]


def test_client_reasoning_is_kept_unsigned() -> None:
    result = convert(
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "reasoning_content": "I thought"},
        {"role": "user", "content": "q2"},
    )
    assert result.history[1] == AssistantMessage("a", thinking=(ThinkingBlock("I thought", ""),))


def test_tool_message_names_come_from_the_matching_call() -> None:
    result = convert(
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [call("a", "read"), call("b", "write")]},
        {"role": "tool", "tool_call_id": "b", "content": "wrote", "name": "ignored"},
        {"role": "tool", "tool_call_id": "a", "content": [{"type": "text", "text": "read it"}]},
        {"role": "tool", "tool_call_id": "zzz", "content": "orphan", "name": "x"},
    )
    assert result.history[2:] == (
        ToolMessage("b", "write", "wrote"),
        ToolMessage("a", "read", "read it"),
        ToolMessage("zzz", "", "orphan"),
    )


@pytest.mark.parametrize(
    ("text", "arguments", "raw"),
    [
        ('{"path": "a.txt", "n": 2}', {"path": "a.txt", "n": 2}, None),
        ("", {}, None),
        ("  ", {}, None),
        ("{}", {}, None),
        ('{"a": ', {}, '{"a": '),
        ("[1, 2]", {}, "[1, 2]"),
        ("null", {}, "null"),
        ("NaN", {}, "NaN"),
        ('"text"', {}, '"text"'),
        ('{"a": NaN}', {}, '{"a": NaN}'),
    ],
)
def test_call_arguments_are_decoded_or_kept_raw(
    text: str, arguments: dict[str, Any], raw: str | None
) -> None:
    result = convert(
        {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [call("c", "f", text)]},
    )
    expected = ToolCall("c", "f", arguments, host=True, raw_arguments=raw)
    assert result.history[1] == AssistantMessage(tool_calls=(expected,))


def test_direct_chat_messages_convert_without_the_parser() -> None:
    messages = [
        ChatMessage("user", (ContentPart("text", "a"), ContentPart("file"))),
        ChatMessage("assistant", None, tool_calls=(ChatToolCall("c", "f", '{"x":1}'),)),
    ]
    result = to_conversation(messages)
    assert result.history == (
        UserMessage("a [file omitted]"),
        AssistantMessage(tool_calls=(ToolCall("c", "f", {"x": 1}, host=True),)),
    )
