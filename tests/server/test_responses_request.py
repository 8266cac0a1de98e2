"""`POST /v1/responses` request validation and the conversion of its items into the chat
face's messages (so both faces share one conversation split)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amplifier_agent.core.messages import AssistantMessage, ToolMessage, UserMessage
from amplifier_agent.server.chat_messages import ChatMessage, ChatToolCall, ContentPart
from amplifier_agent.server.conversation import to_conversation
from amplifier_agent.server.errors import HttpError
from amplifier_agent.server.responses_items import items_to_messages
from amplifier_agent.server.responses_request import parse_responses_request
from tests.server.test_chat_request import DROP, JSON, _mutate

#: What Codex CLI sent on its first request (trimmed), as the issue records it.
CODEX_FIRST = {
    "model": "m",
    "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "D"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Q"}]},
    ],
    "tools": [
        {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
        {"type": "namespace", "name": "mcp"},
        {"type": "web_search"},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "reasoning": {"summary": "auto"},
    "store": False,
    "stream": True,
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "0199-thread",
    "client_metadata": {"session_id": "0199-thread"},
}


def parse(**fields: Any) -> Any:
    document = {"model": "m", "input": "hi", **fields}
    return parse_responses_request(
        orjson.dumps({k: v for k, v in document.items() if v is not DROP})
    )


def failure(**fields: Any) -> HttpError:
    with pytest.raises(HttpError) as caught:
        parse(**fields)
    assert caught.value.status == 400
    return caught.value


def test_codex_first_request() -> None:
    request = parse_responses_request(orjson.dumps(CODEX_FIRST))
    assert (request.stream, request.store, request.session_id) == (True, False, "0199-thread")
    assert [t.name for t in request.tools] == ["exec_command"]
    assert request.ignored_tools == ("namespace", "web_search")
    assert request.ignored_params == ("reasoning",)
    assert request.tool_choice == "auto" and request.include == ("reasoning.encrypted_content",)
    conversation = to_conversation(items_to_messages(list(request.items)))
    assert conversation.prompt == UserMessage("Q")
    assert conversation.containment is not None and "D" in conversation.containment.content


def test_defaults_follow_openai() -> None:
    request = parse()
    assert (request.stream, request.store, request.parallel_tool_calls) == (False, True, True)
    assert request.items == ({"type": "message", "role": "user", "content": "hi"},)
    assert request.session_id is None and request.tool_choice_json == "auto"


def test_session_key_precedence_and_hashing() -> None:
    both = parse(client_metadata={"session_id": "a"}, prompt_cache_key="b")
    assert both.session_id == "a"
    assert parse(prompt_cache_key="b").session_id == "b"
    hashed = parse(prompt_cache_key="has spaces/and slashes").session_id
    assert hashed is not None and hashed.startswith("key-") and len(hashed) == 44
    assert hashed == parse(prompt_cache_key="has spaces/and slashes").session_id


def test_function_tool_choice_and_tools_in_the_responses_shape() -> None:
    request = parse(
        tools=[
            {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}}
        ],
        tool_choice={"type": "function", "name": "f"},
    )
    assert request.tools[0].description == "d"
    assert request.tool_choice == {"type": "function", "function": {"name": "f"}}


@pytest.mark.parametrize(
    ("fields", "code", "param"),
    [
        ({"model": DROP}, "missing_required_parameter", "model"),
        ({"input": DROP}, "missing_required_parameter", "input"),
        ({"input": {}}, "invalid_type", "input"),
        ({"input": [5]}, "invalid_type", "input[0]"),
        ({"store": 1}, "invalid_type", "store"),
        ({"include": [1]}, "invalid_type", "include[0]"),
        ({"metadata": {"k" * 65: "v"}}, "invalid_value", "metadata"),
        ({"metadata": {"k": "v" * 513}}, "invalid_value", "metadata.k"),
        ({"tool_choice": "maybe"}, "invalid_value", "tool_choice"),
        ({"conversation": "conv_1"}, "unsupported_parameter", "conversation"),
        ({"base_url": "http://x"}, "forbidden_parameter", "base_url"),
        ({"top_p": 2}, "invalid_value", "top_p"),
    ],
)
def test_rejections_name_the_field(fields: dict[str, Any], code: str, param: str) -> None:
    error = failure(**fields)
    assert (error.code, error.param) == (code, param)


def test_items_merge_calls_into_the_assistant_message_and_carry_reasoning() -> None:
    items = [
        {"role": "user", "content": "go"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "plan"}]},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "ok"}],
        },
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a":1}'},
        {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "r1"},
        {
            "type": "function_call_output",
            "call_id": "c2",
            "output": [{"type": "input_text", "text": "r2"}],
        },
    ]
    messages = items_to_messages(items)
    assert messages == [
        ChatMessage("user", "go"),
        ChatMessage(
            "assistant",
            (ContentPart("text", "ok"),),
            tool_calls=(ChatToolCall("c1", "f", '{"a":1}'), ChatToolCall("c2", "f", "{}")),
            reasoning="plan",
        ),
        ChatMessage("tool", "r1", tool_call_id="c1"),
        ChatMessage("tool", (ContentPart("text", "r2"),), tool_call_id="c2"),
    ]
    conversation = to_conversation(messages)
    assert conversation.prompt is None  # a continuation: tool results answer the calls
    assistant, first, second = conversation.history[1:]
    assert isinstance(assistant, AssistantMessage) and assistant.thinking[0].text == "plan"
    assert isinstance(first, ToolMessage) and (first.tool_call_id, first.name) == ("c1", "f")
    assert isinstance(second, ToolMessage) and second.content == "r2"


def test_a_call_without_an_assistant_message_becomes_one() -> None:
    items = [
        {"role": "user", "content": "go"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    ]
    assert items_to_messages(items)[1] == ChatMessage(
        "assistant", None, tool_calls=(ChatToolCall("c1", "f", "{}"),)
    )


def _parse_or_http_error(raw: bytes) -> None:
    """Parse and convert `raw`; the only failure allowed is a 400 `HttpError`."""
    try:
        request = parse_responses_request(raw)
        to_conversation(items_to_messages(list(request.items)))
    except HttpError as error:
        assert error.status == 400 and error.code


VALID = {
    "model": "m",
    "instructions": "i",
    "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}]},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "r"},
    ],
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
    "tool_choice": {"type": "function", "name": "f"},
    "metadata": {"k": "v"},
    "client_metadata": {"session_id": "s"},
}


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_arbitrary_json_only_raises_http_error(document: Any) -> None:
    _parse_or_http_error(json.dumps(document).encode())


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6),
    JSON | st.just(DROP),
)
def test_mutated_valid_request_only_raises_http_error(path: list[int], replacement: Any) -> None:
    _parse_or_http_error(json.dumps(_mutate(VALID, path, replacement)).encode())
