"""Request body validation for `POST /v1/chat/completions` (SPEC §8.4)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amplifier_agent.core.messages import ToolSpec
from amplifier_agent.server.chat_messages import ChatMessage, ChatToolCall, ContentPart
from amplifier_agent.server.chat_request import ChatRequest, parse_chat_request
from amplifier_agent.server.conversation import to_conversation
from amplifier_agent.server.errors import HttpError

DROP = object()
USER = {"role": "user", "content": "hi"}


def body(**fields: Any) -> bytes:
    """A valid request with `fields` replaced (or dropped with `DROP`)."""
    document: dict[str, Any] = {"model": "gpt-5", "messages": [USER]}
    document.update(fields)
    return orjson.dumps({k: v for k, v in document.items() if v is not DROP})


def message_body(*messages: Any) -> bytes:
    return body(messages=list(messages))


def tool(name: str = "open_browser", **function: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, **function}}


def failure(raw: bytes) -> HttpError:
    with pytest.raises(HttpError) as caught:
        parse_chat_request(raw)
    assert caught.value.status == 400
    return caught.value


# -- JSON ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b'{"model": "m", "messages": [',
        b'{"model": "m", "temperature": NaN}',
        b'{"model": "m", "temperature": Infinity}',
        b'{"model": "m", "temperature": -Infinity}',
        b'{"model": "\\ud800"}',
        b'{"model": "\xff"}',
        b"\xef\xbb\xbf{}",
        b"[" * 2000 + b"]" * 2000,
        b'{"a": ' + b"[" * 1100 + b"]" * 1100 + b"}",
        b"{'model': 'm'}",
        b'{"model": "m",}',
        b"\x00",
        b'{"temperature": 1e400}',
    ],
)
def test_unparsable_bodies_are_invalid_json(raw: bytes) -> None:
    error = failure(raw)
    assert (error.code, error.param) == ("invalid_json", None)


@pytest.mark.parametrize("raw", [b"[]", b"[{}]", b'"text"', b"1", b"null", b"true"])
def test_non_object_is_invalid_request(raw: bytes) -> None:
    error = failure(raw)
    assert (error.code, error.param) == ("invalid_request", None)


# -- the error table ----------------------------------------------------------------------------

ERROR_CASES: list[tuple[str, bytes, str, str]] = [
    ("no model", body(model=DROP), "missing_required_parameter", "model"),
    ("model number", body(model=5), "invalid_type", "model"),
    ("model null", body(model=None), "invalid_type", "model"),
    ("no messages", body(messages=DROP), "missing_required_parameter", "messages"),
    ("messages object", body(messages={"role": "user"}), "invalid_type", "messages"),
    ("messages empty", body(messages=[]), "invalid_value", "messages"),
    ("too many", body(messages=[USER] * 2049), "too_many_messages", "messages"),
    ("message string", message_body(USER, "hi"), "invalid_type", "messages[1]"),
    ("no role", message_body({"content": "x"}), "missing_required_parameter", "messages[0].role"),
    ("role number", message_body({"role": 1, "content": "x"}), "invalid_type", "messages[0].role"),
    (
        "bad role",
        message_body(USER, USER, USER, {"role": "function", "content": "x"}),
        "invalid_value",
        "messages[3].role",
    ),
    (
        "role case",
        message_body({"role": "User", "content": "x"}),
        "invalid_value",
        "messages[0].role",
    ),
    (
        "no content",
        message_body({"role": "user"}),
        "missing_required_parameter",
        "messages[0].content",
    ),
    (
        "null content",
        message_body({"role": "user", "content": None}),
        "invalid_type",
        "messages[0].content",
    ),
    (
        "content number",
        message_body({"role": "system", "content": 3}),
        "invalid_type",
        "messages[0].content",
    ),
    (
        "part not object",
        message_body({"role": "user", "content": ["hi"]}),
        "invalid_type",
        "messages[0].content[0]",
    ),
    (
        "part without type",
        message_body({"role": "user", "content": [{"text": "hi"}]}),
        "missing_required_parameter",
        "messages[0].content[0].type",
    ),
    (
        "part type empty",
        message_body({"role": "user", "content": [{"type": ""}]}),
        "invalid_value",
        "messages[0].content[0].type",
    ),
    (
        "text part without text",
        message_body(
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text"}]}
        ),
        "missing_required_parameter",
        "messages[0].content[1].text",
    ),
    (
        "text part text number",
        message_body({"role": "user", "content": [{"type": "text", "text": 1}]}),
        "invalid_type",
        "messages[0].content[0].text",
    ),
    (
        "name number",
        message_body({"role": "user", "content": "x", "name": 2}),
        "invalid_type",
        "messages[0].name",
    ),
    (
        "tool without id",
        message_body({"role": "tool", "content": "ok"}),
        "missing_required_parameter",
        "messages[0].tool_call_id",
    ),
    (
        "tool id empty",
        message_body({"role": "tool", "content": "ok", "tool_call_id": ""}),
        "invalid_value",
        "messages[0].tool_call_id",
    ),
    (
        "tool id number",
        message_body({"role": "tool", "content": "ok", "tool_call_id": 7}),
        "invalid_type",
        "messages[0].tool_call_id",
    ),
    (
        "tool content null",
        message_body({"role": "tool", "content": None, "tool_call_id": "c"}),
        "invalid_type",
        "messages[0].content",
    ),
    (
        "tool_calls object",
        message_body({"role": "assistant", "tool_calls": {}}),
        "invalid_type",
        "messages[0].tool_calls",
    ),
    (
        "call without id",
        message_body(
            {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}
        ),
        "missing_required_parameter",
        "messages[0].tool_calls[0].id",
    ),
    (
        "call type",
        message_body(
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "custom", "function": {"name": "f", "arguments": ""}}
                ],
            }
        ),
        "invalid_value",
        "messages[0].tool_calls[0].type",
    ),
    (
        "call without function",
        message_body({"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}),
        "missing_required_parameter",
        "messages[0].tool_calls[0].function",
    ),
    (
        "call without name",
        message_body(
            {"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}
        ),
        "missing_required_parameter",
        "messages[0].tool_calls[0].function.name",
    ),
    (
        "call arguments object",
        message_body(
            {
                "role": "assistant",
                "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {}}}],
            }
        ),
        "invalid_type",
        "messages[0].tool_calls[0].function.arguments",
    ),
    (
        "call without arguments",
        message_body({"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f"}}]}),
        "missing_required_parameter",
        "messages[0].tool_calls[0].function.arguments",
    ),
    (
        "reasoning number",
        message_body({"role": "assistant", "content": "", "reasoning_content": 1}),
        "invalid_type",
        "messages[0].reasoning_content",
    ),
    ("stream string", body(stream="true"), "invalid_type", "stream"),
    ("stream int", body(stream=1), "invalid_type", "stream"),
    ("stream null", body(stream=None), "invalid_type", "stream"),
    ("stream_options list", body(stream_options=[]), "invalid_type", "stream_options"),
    (
        "include_usage string",
        body(stream_options={"include_usage": "yes"}),
        "invalid_type",
        "stream_options.include_usage",
    ),
    (
        "include_usage without streaming",
        body(stream=False, stream_options={"include_usage": True}),
        "invalid_value",
        "stream_options.include_usage",
    ),
    ("tools object", body(tools={}), "invalid_type", "tools"),
    ("too many tools", body(tools=[tool(f"t{i}") for i in range(129)]), "too_many_tools", "tools"),
    ("tool not object", body(tools=[tool(), 3]), "invalid_type", "tools[1]"),
    (
        "tool without type",
        body(tools=[{"function": {"name": "f"}}]),
        "missing_required_parameter",
        "tools[0].type",
    ),
    (
        "tool without function",
        body(tools=[{"type": "function"}]),
        "missing_required_parameter",
        "tools[0].function",
    ),
    (
        "tool function string",
        body(tools=[{"type": "function", "function": "f"}]),
        "invalid_type",
        "tools[0].function",
    ),
    (
        "tool without name",
        body(tools=[{"type": "function", "function": {}}]),
        "missing_required_parameter",
        "tools[0].function.name",
    ),
    ("tool name number", body(tools=[tool(5)]), "invalid_type", "tools[0].function.name"),  # type: ignore[arg-type]
    (
        "tool name space",
        body(tools=[tool("open browser")]),
        "invalid_value",
        "tools[0].function.name",
    ),
    ("tool name empty", body(tools=[tool("")]), "invalid_value", "tools[0].function.name"),
    ("tool name long", body(tools=[tool("a" * 65)]), "invalid_value", "tools[0].function.name"),
    ("tool name dot", body(tools=[tool("a.b")]), "invalid_value", "tools[0].function.name"),
    (
        "tool name duplicate",
        body(tools=[tool("a"), tool("a")]),
        "invalid_value",
        "tools[1].function.name",
    ),
    (
        "tool description",
        body(tools=[tool(description=1)]),
        "invalid_type",
        "tools[0].function.description",
    ),
    (
        "tool parameters list",
        body(tools=[tool(parameters=[])]),
        "invalid_type",
        "tools[0].function.parameters",
    ),
    (
        "tool schema too large",
        body(tools=[tool(parameters={"type": "object", "description": "x" * 65_536})]),
        "tool_schema_too_large",
        "tools[0].function.parameters",
    ),
    ("tool_choice bad", body(tool_choice="any"), "invalid_value", "tool_choice"),
    ("tool_choice number", body(tool_choice=1), "invalid_type", "tool_choice"),
    (
        "tool_choice type",
        body(tool_choice={"type": "tool", "name": "f"}),
        "invalid_value",
        "tool_choice.type",
    ),
    (
        "tool_choice no function",
        body(tool_choice={"type": "function"}),
        "missing_required_parameter",
        "tool_choice.function",
    ),
    (
        "tool_choice no name",
        body(tool_choice={"type": "function", "function": {}}),
        "missing_required_parameter",
        "tool_choice.function.name",
    ),
    (
        "tool_choice bad name",
        body(tool_choice={"type": "function", "function": {"name": "a b"}}),
        "invalid_value",
        "tool_choice.function.name",
    ),
    ("temperature high", body(temperature=2.01), "invalid_value", "temperature"),
    ("temperature negative", body(temperature=-0.1), "invalid_value", "temperature"),
    ("temperature string", body(temperature="1"), "invalid_type", "temperature"),
    ("temperature bool", body(temperature=True), "invalid_type", "temperature"),
    ("top_p high", body(top_p=1.5), "invalid_value", "top_p"),
    ("top_p bool", body(top_p=False), "invalid_type", "top_p"),
    ("max_tokens zero", body(max_tokens=0), "invalid_value", "max_tokens"),
    ("max_tokens float", body(max_tokens=10.0), "invalid_type", "max_tokens"),
    ("max_tokens bool", body(max_tokens=True), "invalid_type", "max_tokens"),
    ("max_tokens string", body(max_tokens="10"), "invalid_type", "max_tokens"),
    (
        "max_completion_tokens negative",
        body(max_completion_tokens=-1),
        "invalid_value",
        "max_completion_tokens",
    ),
    (
        "bad max_tokens with good latter",
        body(max_tokens=0, max_completion_tokens=5),
        "invalid_value",
        "max_tokens",
    ),
    ("stop number", body(stop=1), "invalid_type", "stop"),
    ("stop too many", body(stop=["a", "b", "c", "d", "e"]), "invalid_value", "stop"),
    ("stop element", body(stop=["a", 2]), "invalid_type", "stop[1]"),
    ("n two", body(n=2), "unsupported_parameter", "n"),
    ("n zero", body(n=0), "unsupported_parameter", "n"),
    ("n float", body(n=1.0), "unsupported_parameter", "n"),
    ("n bool", body(n=True), "unsupported_parameter", "n"),
    ("n string", body(n="1"), "unsupported_parameter", "n"),
]


@pytest.mark.parametrize(
    ("raw", "code", "param"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_error_codes_name_the_parameter(raw: bytes, code: str, param: str) -> None:
    error = failure(raw)
    assert (error.code, error.param) == (code, param)
    assert param in error.message


@pytest.mark.parametrize(
    "name",
    [
        "api_base",
        "base_url",
        "api_key",
        "api_version",
        "organization",
        "headers",
        "extra_headers",
        "extra_body",
        "extra_query",
        "custom_llm_provider",
        "webhook_url",
        "proxy_url",
        "BASE_URL",
        "Api_Key",
    ],
)
def test_forbidden_top_level_parameters(name: str) -> None:
    error = failure(body(**{name: None}))
    assert (error.code, error.param) == ("forbidden_parameter", name)


def test_forbidden_names_are_fine_inside_tool_schemas_and_messages() -> None:
    schema = {"type": "object", "properties": {"base_url": {"type": "string"}, "api_key": {}}}
    request = parse_chat_request(
        body(
            tools=[tool("fetch", parameters=schema)],
            messages=[{"role": "user", "content": "x", "api_key": "k", "base_url": "u"}],
            metadata={"base_url": "x"},
        )
    )
    assert request.tools[0].parameters == schema


def test_never_a_different_exception_for_a_schema_nested_past_the_encoder_limit() -> None:
    deep = b'{"a":' * 300 + b"{}" + b"}" * 300  # decodable, but deeper than orjson encodes
    raw = b'{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function",'
    raw += b'"function":{"name":"f","parameters":' + deep + b"}}]}"
    error = failure(raw)
    assert (error.code, error.param) == ("invalid_value", "tools[0].function.parameters")


# -- accepted requests ----------------------------------------------------------------------------


def test_minimal_request_defaults() -> None:
    request = parse_chat_request(body())
    assert request == ChatRequest(model="gpt-5", messages=(ChatMessage("user", "hi"),))
    assert request.stream is True
    assert request.include_usage is False
    assert (request.tools, request.stop, request.ignored_params) == ((), (), ())
    assert (request.tool_choice, request.temperature, request.max_tokens) == (None, None, None)


def test_streaming_options() -> None:
    request = parse_chat_request(body(stream=True, stream_options={"include_usage": True}))
    assert (request.stream, request.include_usage) == (True, True)
    request = parse_chat_request(body(stream=False))
    assert (request.stream, request.include_usage) == (False, False)
    request = parse_chat_request(body(stream=False, stream_options={}))
    assert request.include_usage is False


def test_stream_default_applies_only_when_stream_is_absent() -> None:
    assert parse_chat_request(body(), stream_default=False).stream is False
    assert parse_chat_request(body(), stream_default=True).stream is True
    assert parse_chat_request(body(stream=True), stream_default=False).stream is True
    assert parse_chat_request(body(stream=False), stream_default=True).stream is False


def test_stream_null_is_refused_whatever_the_default() -> None:
    with pytest.raises(HttpError) as caught:
        parse_chat_request(body(stream=None), stream_default=False)
    assert (caught.value.code, caught.value.param) == ("invalid_type", "stream")


def test_sampling_parameters() -> None:
    request = parse_chat_request(
        body(temperature=0, top_p=1, max_tokens=100, stop="END", n=1, user="u", metadata={"k": 1})
    )
    assert (request.temperature, request.top_p) == (0.0, 1.0)
    assert isinstance(request.temperature, float)
    assert request.max_tokens == 100
    assert request.stop == ("END",)
    assert request.ignored_params == ()
    edge = parse_chat_request(body(temperature=2, top_p=0.0, stop=["a", "b", "c", "d"]))
    assert (edge.temperature, edge.top_p, edge.stop) == (2.0, 0.0, ("a", "b", "c", "d"))


def test_max_completion_tokens_wins() -> None:
    assert parse_chat_request(body(max_tokens=10, max_completion_tokens=20)).max_tokens == 20
    assert parse_chat_request(body(max_completion_tokens=20)).max_tokens == 20
    assert parse_chat_request(body(max_tokens=32000)).max_tokens == 32000


def test_nulls_are_absent_for_optional_parameters() -> None:
    nulls = dict.fromkeys(
        ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "n", "tools")
    )
    request = parse_chat_request(body(tool_choice=None, stream_options=None, **nulls))
    assert request == ChatRequest(model="gpt-5", messages=(ChatMessage("user", "hi"),))


def test_tools_become_tool_specs() -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}
    request = parse_chat_request(
        body(
            tools=[
                tool("bash", description="Run a command", parameters=schema, strict=True),
                {"type": "web_search"},
                tool("todo-write_2"),
            ]
        )
    )
    assert request.tools == (
        ToolSpec("bash", "Run a command", schema),
        ToolSpec("todo-write_2", "", {"type": "object", "properties": {}}),
    )


def test_tool_schema_at_the_size_limit_is_accepted() -> None:
    padding = 65_536 - len(orjson.dumps({"d": ""}))
    schema = {"d": "x" * padding}
    assert len(orjson.dumps(schema)) == 65_536
    assert parse_chat_request(body(tools=[tool(parameters=schema)])).tools[0].parameters == schema


def test_128_tools_are_accepted() -> None:
    request = parse_chat_request(body(tools=[tool(f"t{i}") for i in range(128)]))
    assert len(request.tools) == 128


@pytest.mark.parametrize("mode", ["none", "auto", "required"])
def test_tool_choice_modes(mode: str) -> None:
    assert parse_chat_request(body(tool_choice=mode)).tool_choice == mode


def test_named_tool_choice_is_normalised() -> None:
    choice = {"type": "function", "function": {"name": "bash", "extra": 1}, "x": 2}
    assert parse_chat_request(body(tool_choice=choice)).tool_choice == {
        "type": "function",
        "function": {"name": "bash"},
    }


def test_unknown_top_level_names_are_listed_in_order() -> None:
    raw = body(seed=1, parallel_tool_calls=True, user="u", metadata={}, reasoning_effort="low")
    assert parse_chat_request(raw).ignored_params == (
        "seed",
        "parallel_tool_calls",
        "reasoning_effort",
    )


def test_only_header_safe_unknown_names_are_listed() -> None:
    raw = body(**{"bad name": 1, "ünï": 2, "a\r\nb": 3, "x" * 65: 4, "ok_1": 5})
    assert parse_chat_request(raw).ignored_params == ("ok_1",)
    many = body(**{f"p{i}": i for i in range(100)})
    assert len(parse_chat_request(many).ignored_params) == 32


def test_every_message_shape() -> None:
    request = parse_chat_request(
        message_body(
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "dev"}]},
            {
                "role": "user",
                "content": [{"type": "text", "text": "look"}, {"type": "image_url"}],
                "name": "ann",
            },
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "thinking",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a":1}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "done"},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "reasoning": "r", "tool_calls": []},
            {"role": "assistant", "tool_calls": None},
            {"role": "user", "content": "", "tool_calls": "ignored", "tool_call_id": 5},
        )
    )
    assert request.messages == (
        ChatMessage("system", "be brief"),
        ChatMessage("developer", (ContentPart("text", "dev"),)),
        ChatMessage("user", (ContentPart("text", "look"), ContentPart("image_url")), name="ann"),
        ChatMessage(
            "assistant",
            None,
            tool_calls=(ChatToolCall("c1", "f", '{"a":1}'),),
            reasoning="thinking",
        ),
        ChatMessage("tool", "done", tool_call_id="c1"),
        ChatMessage("assistant", ""),
        ChatMessage("assistant", None, reasoning="r"),
        ChatMessage("assistant", None),
        ChatMessage("user", ""),
    )


def test_reasoning_content_is_preferred_over_reasoning() -> None:
    raw = message_body(
        {"role": "assistant", "content": "a", "reasoning_content": "rc", "reasoning": "r"}, USER
    )
    assert parse_chat_request(raw).messages[0].reasoning == "rc"


def test_2048_messages_are_accepted() -> None:
    assert len(parse_chat_request(body(messages=[USER] * 2048)).messages) == 2048


def test_body_with_whitespace_and_stdlib_encoding_parses() -> None:
    raw = b"\n  " + json.dumps({"model": "m", "messages": [USER]}, indent=2).encode() + b"\n"
    assert parse_chat_request(raw).model == "m"


def test_an_opencode_shaped_request() -> None:
    opencode = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "messages": [
            {"role": "system", "content": "You are opencode"},
            {"role": "user", "content": [{"type": "text", "text": "list files"}]},
        ],
        "tools": [
            tool(
                "bash",
                description="Run",
                parameters={
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object",
                    "properties": {"command": {"type": "string"}},
                    "required": ["command"],
                    "additionalProperties": False,
                },
            )
        ],
        "tool_choice": "auto",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    request = parse_chat_request(orjson.dumps(opencode))
    assert (request.model, request.max_tokens, request.tool_choice) == (
        "claude-sonnet-4-5",
        32000,
        "auto",
    )
    assert [spec.name for spec in request.tools] == ["bash"]
    assert request.include_usage is True


# -- property: bad input only ever raises HttpError ------------------------------------------------

KEYS = st.sampled_from(
    [
        "model",
        "messages",
        "role",
        "content",
        "type",
        "text",
        "name",
        "tool_call_id",
        "tool_calls",
        "id",
        "function",
        "arguments",
        "parameters",
        "description",
        "stream",
        "stream_options",
        "include_usage",
        "tools",
        "tool_choice",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "n",
        "reasoning",
        "reasoning_content",
    ]
) | st.text(max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["user", "assistant", "tool", "system", "function", "text", "auto", ""])
    | st.text(max_size=10)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
VALID = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "s"},
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": "r"},
    ],
    "tools": [tool("f", parameters={"type": "object"})],
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "stream_options": {"include_usage": True},
}


def _mutate(document: Any, path: list[int], replacement: Any) -> Any:
    """`document` with the node reached by walking `path` (indices modulo size) replaced, or
    removed from its container when `replacement` is `DROP`."""
    step, rest = path[0], path[1:]
    if isinstance(document, list):
        index = step % len(document)
        items = list(enumerate(document))
    else:
        index = step % len(document)
        items = list(document.items())
    _, child = items[index]
    if not rest or not isinstance(child, dict | list) or not child:
        if replacement is DROP:
            del items[index]
        else:
            items[index] = (items[index][0], replacement)
    else:
        items[index] = (items[index][0], _mutate(child, rest, replacement))
    return [v for _, v in items] if isinstance(document, list) else dict(items)


def _parse_or_http_error(raw: bytes) -> ChatRequest | None:
    """Parse and convert `raw`; the only failure allowed is a 400 `HttpError`."""
    try:
        request = parse_chat_request(raw)
        to_conversation(request.messages)
        return request
    except HttpError as error:
        assert error.status == 400
        assert error.code
        return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_http_error(raw: bytes) -> None:
    _parse_or_http_error(raw)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_arbitrary_json_only_raises_http_error(document: Any) -> None:
    _parse_or_http_error(json.dumps(document).encode())


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6),
    JSON | st.just(DROP),
)
def test_mutated_valid_request_only_raises_http_error(path: list[int], replacement: Any) -> None:
    _parse_or_http_error(json.dumps(_mutate(VALID, path, replacement)).encode())


def _paths(document: Any, prefix: tuple[int, ...] = ()) -> list[list[int]]:
    """Every node path of `document` in the index form `_mutate` walks."""
    if not isinstance(document, dict | list) or not document:
        return []
    children = document if isinstance(document, list) else list(document.values())
    paths = []
    for index, child in enumerate(children):
        paths.append([*prefix, index])
        paths.extend(_paths(child, (*prefix, index)))
    return paths


ODD_VALUES = [
    DROP,
    None,
    True,
    0,
    -1,
    2**70,
    1.5,
    "",
    "x",
    "text",
    [],
    [None],
    {},
    {"type": "text"},
]


def test_every_single_node_mutation_only_raises_http_error() -> None:
    paths = _paths(VALID)
    assert len(paths) > 30
    for path in paths:
        for value in ODD_VALUES:
            _parse_or_http_error(json.dumps(_mutate(VALID, path, value)).encode())


def test_the_mutation_base_is_valid() -> None:
    assert _parse_or_http_error(orjson.dumps(VALID)) is not None
