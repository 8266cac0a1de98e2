"""`POST /v1/chat/completions` request bodies (SPEC §8.4): decoded with orjson and validated into
one frozen `ChatRequest`. Bad input only ever raises a 400 `HttpError` naming the field's path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from amplifier_agent.core.messages import ToolSpec
from amplifier_agent.server.chat_messages import ChatMessage, parse_messages
from amplifier_agent.server.fields import (
    JsonObject,
    as_array,
    as_bool,
    as_object,
    as_string,
    bad_request,
    decode_object,
    optional_string,
    positive_int,
    ranged,
    required,
    wrong_type,
    wrong_value,
)

ToolChoiceMode = Literal["none", "auto", "required"]
#: Same shape as the providers' `ToolChoice`: a mode, or `{"type":"function","function":{name}}`.
ToolChoice = ToolChoiceMode | dict[str, Any]
_TOOL_CHOICE_MODES: dict[str, ToolChoiceMode] = {
    "none": "none",
    "auto": "auto",
    "required": "required",
}

MAX_TOOLS = 128
MAX_TOOL_SCHEMA_BYTES = 64 * 1024
MAX_STOP_SEQUENCES = 4
TOOL_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Why refused: a request field must never reach a provider's URL, headers or credentials.
FORBIDDEN_PARAMS = frozenset(
    {
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
    }
)
KNOWN_PARAMS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "n",
        "user",
        "metadata",
    }
)
# Ignored names go into a response header, so only header-safe tokens are listed, and few.
_LISTABLE_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_LISTED_IGNORED = 32


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated request. `max_tokens` is `max_completion_tokens` when given; `stop` is empty
    when not given; `ignored_params` names unknown top-level fields (header-safe ones only)."""

    model: str
    messages: tuple[ChatMessage, ...]
    stream: bool = True
    include_usage: bool = False
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    ignored_params: tuple[str, ...] = ()


def parse_chat_request(body: bytes, *, stream_default: bool = True) -> ChatRequest:
    """Validate a request body; fields are checked in a fixed order, the first failure wins.
    `stream_default` applies when the body has no `stream` (the `Accept` header decides it)."""
    document = decode_object(body)
    refuse_forbidden(document)
    _check_n(document.get("n"))
    stream = _stream(document, stream_default)
    return ChatRequest(
        model=as_string(required(document, "model"), "model"),
        messages=parse_messages(required(document, "messages")),
        stream=stream,
        include_usage=_include_usage(document.get("stream_options"), stream),
        tools=parse_tools(document.get("tools")),
        tool_choice=parse_tool_choice(document.get("tool_choice")),
        temperature=ranged(document, "temperature", 0.0, 2.0),
        top_p=ranged(document, "top_p", 0.0, 1.0),
        max_tokens=_max_tokens(document),
        stop=_stop(document.get("stop")),
        ignored_params=_ignored(document),
    )


def refuse_forbidden(document: JsonObject) -> None:
    for key in document:
        lowered = key.lower()
        if lowered in FORBIDDEN_PARAMS or lowered.endswith("_url"):
            raise bad_request(
                "forbidden_parameter",
                key,
                "This parameter is refused: request fields never reach provider URLs, "
                "headers or credentials",
            )


def _check_n(value: object) -> None:
    if value is None or (type(value) is int and value == 1):
        return
    raise bad_request("unsupported_parameter", "n", "Only n=1 is supported")


def _stream(document: JsonObject, default: bool) -> bool:
    # `null` is refused rather than read as absent: an explicit value must be a real choice.
    return as_bool(document["stream"], "stream") if "stream" in document else default


def _include_usage(options: object, stream: bool) -> bool:
    if options is None:
        return False
    value = as_object(options, "stream_options").get("include_usage")
    if value is None:
        return False
    flag = as_bool(value, "stream_options.include_usage")
    if not stream:
        raise wrong_value("stream_options.include_usage", "only allowed when stream is true")
    return flag


def parse_tools(value: object) -> tuple[ToolSpec, ...]:
    """The request's function tools; other tool kinds are skipped, duplicate names refused."""
    if value is None:
        return ()
    items = as_array(value, "tools")
    if len(items) > MAX_TOOLS:
        raise bad_request("too_many_tools", "tools", f"At most {MAX_TOOLS} tools are accepted")
    specs: dict[str, ToolSpec] = {}
    for index, item in enumerate(items):
        spec = _tool(item, f"tools[{index}]")
        if spec is None:
            continue
        if spec.name in specs:
            raise wrong_value(f"tools[{index}].function.name", "tool names must be unique")
        specs[spec.name] = spec
    return tuple(specs.values())


def _tool(value: object, path: str) -> ToolSpec | None:
    tool = as_object(value, path)
    if as_string(required(tool, "type", path), f"{path}.type") != "function":
        return None
    where = f"{path}.function"
    return function_spec(as_object(required(tool, "function", path), where), where)


def function_spec(function: JsonObject, where: str) -> ToolSpec:
    """A function tool's `name`, `description` and `parameters`, validated; `where` is the path
    of the object holding them (chat nests them under `function`, Responses does not)."""
    name = as_string(required(function, "name", where), f"{where}.name")
    if not TOOL_NAME_RE.fullmatch(name):
        raise wrong_value(f"{where}.name", "must match ^[A-Za-z0-9_-]{1,64}$")
    description = optional_string(function, "description", where) or ""
    parameters = function.get("parameters")
    if parameters is None:
        return ToolSpec(name=name, description=description)
    schema = as_object(parameters, f"{where}.parameters")
    _check_schema_size(schema, f"{where}.parameters")
    return ToolSpec(name=name, description=description, parameters=schema)


def _check_schema_size(schema: JsonObject, param: str) -> None:
    try:
        size = len(orjson.dumps(schema))
    except orjson.JSONEncodeError:
        # orjson decodes deeper nesting than it encodes; such a schema could not be forwarded.
        raise wrong_value(param, "the schema is nested too deeply") from None
    if size > MAX_TOOL_SCHEMA_BYTES:
        raise bad_request(
            "tool_schema_too_large",
            param,
            f"'{param}' exceeds {MAX_TOOL_SCHEMA_BYTES} bytes serialised",
        )


def parse_tool_choice(value: object) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        mode = _TOOL_CHOICE_MODES.get(value)
        if mode is None:
            raise wrong_value("tool_choice", "must be none, auto, required or a function choice")
        return mode
    if not isinstance(value, dict):
        raise wrong_type("tool_choice", "a string or an object", value)
    if value.get("type") != "function":
        raise wrong_value("tool_choice.type", "must be 'function'")
    function = as_object(required(value, "function", "tool_choice"), "tool_choice.function")
    name = as_string(
        required(function, "name", "tool_choice.function"), "tool_choice.function.name"
    )
    if not TOOL_NAME_RE.fullmatch(name):
        raise wrong_value("tool_choice.function.name", "must match ^[A-Za-z0-9_-]{1,64}$")
    return {"type": "function", "function": {"name": name}}


def _max_tokens(document: Mapping[str, Any]) -> int | None:
    legacy = positive_int(document, "max_tokens")
    current = positive_int(document, "max_completion_tokens")
    return current if current is not None else legacy


def _stop(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    items = as_array(value, "stop", "a string or an array of strings")
    if len(items) > MAX_STOP_SEQUENCES:
        raise wrong_value("stop", f"at most {MAX_STOP_SEQUENCES} stop sequences are accepted")
    return tuple(as_string(item, f"stop[{index}]") for index, item in enumerate(items))


def _ignored(document: JsonObject) -> tuple[str, ...]:
    unknown = (key for key in document if key not in KNOWN_PARAMS)
    listable = [key for key in unknown if _LISTABLE_NAME_RE.fullmatch(key)]
    return tuple(listable[:MAX_LISTED_IGNORED])
