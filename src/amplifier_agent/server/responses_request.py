"""`POST /v1/responses` request bodies: decoded and validated into one frozen
`ResponsesRequest`, with the chat face's rules for shared fields. Bad input only ever raises a
400 `HttpError` naming the field's path."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from amplifier_agent.core.messages import ToolSpec
from amplifier_agent.server.chat_request import (
    MAX_TOOLS,
    TOOL_NAME_RE,
    ToolChoice,
    function_spec,
    parse_tool_choice,
    refuse_forbidden,
)
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
    wrong_value,
)
from amplifier_agent.server.gate import valid_session_id
from amplifier_agent.server.responses_items import input_items

KNOWN_PARAMS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "stream",
        "store",
        "previous_response_id",
        "metadata",
        "include",
        "prompt_cache_key",
        "client_metadata",
    }
)
_LISTABLE_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_LISTED_IGNORED = 32
MAX_METADATA_KEYS = 16


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    """A validated request. `items` is `input` as item objects; `tools` the function tools,
    `ignored_tools` the types of the others; `session_id` the client's conversation key."""

    model: str
    items: tuple[JsonObject, ...]
    instructions: str | None = None
    stream: bool = False
    store: bool = True
    previous_response_id: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    ignored_tools: tuple[str, ...] = ()
    tool_choice: ToolChoice | None = None
    tool_choice_json: Any = "auto"
    parallel_tool_calls: bool = True
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    metadata: dict[str, str] | None = None
    include: tuple[str, ...] = ()
    session_id: str | None = None
    ignored_params: tuple[str, ...] = ()


def parse_responses_request(body: bytes) -> ResponsesRequest:
    """Validate a request body; fields are checked in a fixed order, the first failure wins."""
    document = decode_object(body)
    refuse_forbidden(document)
    _refuse_unsupported(document)
    tools, ignored_tools = _tools(document.get("tools"))
    choice = _tool_choice(document.get("tool_choice"))
    return ResponsesRequest(
        model=as_string(required(document, "model"), "model"),
        items=tuple(input_items(required(document, "input"))),
        instructions=optional_string(document, "instructions"),
        stream=_flag(document, "stream", False),
        store=_flag(document, "store", True),
        previous_response_id=optional_string(document, "previous_response_id"),
        tools=tools,
        ignored_tools=ignored_tools,
        tool_choice=choice,
        tool_choice_json=document.get("tool_choice") or "auto",
        parallel_tool_calls=_flag(document, "parallel_tool_calls", True),
        max_output_tokens=positive_int(document, "max_output_tokens"),
        temperature=ranged(document, "temperature", 0.0, 2.0),
        top_p=ranged(document, "top_p", 0.0, 1.0),
        metadata=_metadata(document.get("metadata")),
        include=_strings(document.get("include"), "include"),
        session_id=_session_key(document),
        ignored_params=_ignored(document),
    )


def _refuse_unsupported(document: JsonObject) -> None:
    if document.get("background"):
        raise bad_request(
            "unsupported_parameter", "background", "Background responses are not supported"
        )
    if document.get("conversation") is not None:
        raise bad_request(
            "unsupported_parameter",
            "conversation",
            "Conversation objects are not supported; use previous_response_id",
        )


def _flag(document: JsonObject, key: str, default: bool) -> bool:
    value = document.get(key)
    return default if value is None else as_bool(value, key)


def _tools(value: object) -> tuple[tuple[ToolSpec, ...], tuple[str, ...]]:
    """Function tools (duplicate names refused) and the distinct types of every other tool."""
    if value is None:
        return (), ()
    items = as_array(value, "tools")
    if len(items) > MAX_TOOLS:
        raise bad_request("too_many_tools", "tools", f"At most {MAX_TOOLS} tools are accepted")
    specs: dict[str, ToolSpec] = {}
    ignored: list[str] = []
    for index, item in enumerate(items):
        where = f"tools[{index}]"
        tool = as_object(item, where)
        kind = as_string(required(tool, "type", where), f"{where}.type")
        if kind != "function":
            if _LISTABLE_NAME_RE.fullmatch(kind) and kind not in ignored:
                ignored.append(kind)
            continue
        spec = function_spec(tool, where)
        if spec.name in specs:
            raise wrong_value(f"{where}.name", "tool names must be unique")
        specs[spec.name] = spec
    return tuple(specs.values()), tuple(ignored[:MAX_LISTED_IGNORED])


def _tool_choice(value: object) -> ToolChoice | None:
    """The chat face's tool choice: a mode, or `{"type":"function","function":{"name"}}`."""
    if not isinstance(value, dict) or "function" in value:
        return parse_tool_choice(value)
    if value.get("type") != "function":
        raise wrong_value("tool_choice.type", "must be 'function'")
    name = as_string(required(value, "name", "tool_choice"), "tool_choice.name")
    if not TOOL_NAME_RE.fullmatch(name):
        raise wrong_value("tool_choice.name", "must match ^[A-Za-z0-9_-]{1,64}$")
    return {"type": "function", "function": {"name": name}}


def _strings(value: object, param: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = as_array(value, param, "an array of strings")
    return tuple(as_string(item, f"{param}[{index}]") for index, item in enumerate(items))


def _metadata(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    metadata = as_object(value, "metadata")
    if len(metadata) > MAX_METADATA_KEYS:
        raise wrong_value("metadata", f"at most {MAX_METADATA_KEYS} keys are accepted")
    for key, item in metadata.items():
        if len(key) > 64:
            raise wrong_value("metadata", "keys must be at most 64 characters")
        if len(as_string(item, f"metadata.{key}")) > 512:
            raise wrong_value(f"metadata.{key}", "values must be at most 512 characters")
    return dict(metadata)


def _session_key(document: JsonObject) -> str | None:
    """The client's stable conversation id: `client_metadata.session_id`, else
    `prompt_cache_key`. A key that is not a valid session id is hashed into one."""
    client_metadata = document.get("client_metadata")
    key = None
    if client_metadata is not None:
        key = optional_string(
            as_object(client_metadata, "client_metadata"), "session_id", "client_metadata"
        )
    if not key:
        key = optional_string(document, "prompt_cache_key")
    if not key:
        return None
    if valid_session_id(key):
        return key
    return "key-" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _ignored(document: JsonObject) -> tuple[str, ...]:
    unknown = (key for key in document if key not in KNOWN_PARAMS)
    listable = [key for key in unknown if _LISTABLE_NAME_RE.fullmatch(key)]
    return tuple(listable[:MAX_LISTED_IGNORED])
