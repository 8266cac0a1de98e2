"""The `input` of a `POST /v1/responses` request: a string or a list of items (`message`,
`function_call`, `function_call_output`, `reasoning`), validated into the chat face's
`ChatMessage`s so both faces share one conversation split and one reconciliation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from amplifier_agent.server.chat_messages import ChatMessage, ChatToolCall, ContentPart, Role
from amplifier_agent.server.fields import (
    JsonObject,
    as_array,
    as_nonempty_string,
    as_object,
    as_string,
    bad_request,
    required,
    wrong_type,
    wrong_value,
)

MAX_ITEMS = 2048
_MESSAGE_ROLES: dict[str, Role] = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
    "developer": "developer",
}
#: Content part types that carry text; any other part is kept as an omitted placeholder.
_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "summary_text", "refusal"})
_PART_TEXT_KEY = {"refusal": "refusal"}


def input_items(value: object) -> list[JsonObject]:
    """`input` as a list of item objects; a string is one user message."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    items = as_array(value, "input", "a string or an array of input items")
    if not items:
        raise wrong_value("input", "must contain at least one item")
    if len(items) > MAX_ITEMS:
        raise bad_request("too_many_items", "input", f"At most {MAX_ITEMS} items are accepted")
    return [as_object(item, f"input[{index}]") for index, item in enumerate(items)]


def items_to_messages(items: list[JsonObject], path: str = "input") -> list[ChatMessage]:
    """Chat messages in order: consecutive `function_call` items join the assistant message
    before them, and a `reasoning` item's summary becomes the next assistant's reasoning."""
    messages: list[ChatMessage] = []
    reasoning: list[str] = []
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        kind = _item_type(item, where)
        if kind == "reasoning":
            reasoning.extend(_reasoning_texts(item, where))
            continue
        if kind == "function_call":
            call = _function_call(item, where)
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant" and not reasoning:
                messages[-1] = replace(last, tool_calls=(*last.tool_calls, call))
                continue
            message = ChatMessage("assistant", None, tool_calls=(call,))
        elif kind == "function_call_output":
            message = _call_output(item, where)
        else:
            message = _message(item, where)
        if message.role == "assistant" and reasoning:
            message = replace(message, reasoning="\n\n".join(reasoning))
            reasoning = []
        messages.append(message)
    return messages


def _item_type(item: JsonObject, where: str) -> str:
    kind = item.get("type")
    if kind is None and "role" in item:
        return "message"  # the SDKs' "easy" input message has no `type`
    kind = as_string(required(item, "type", where), f"{where}.type")
    if kind not in ("message", "function_call", "function_call_output", "reasoning"):
        raise wrong_value(
            f"{where}.type",
            "must be message, function_call, function_call_output or reasoning "
            "(other item types are not supported here)",
        )
    return kind


def _message(item: JsonObject, where: str) -> ChatMessage:
    role = _MESSAGE_ROLES.get(as_string(required(item, "role", where), f"{where}.role"))
    if role is None:
        raise wrong_value(f"{where}.role", "must be one of " + ", ".join(_MESSAGE_ROLES))
    return ChatMessage(role, _content(required(item, "content", where), f"{where}.content"))


def _content(value: object, param: str) -> str | tuple[ContentPart, ...]:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise wrong_type(param, "a string or an array of content parts", value)
    return tuple(_part(part, f"{param}[{index}]") for index, part in enumerate(value))


def _part(value: object, where: str) -> ContentPart:
    part = as_object(value, where)
    kind = as_nonempty_string(required(part, "type", where), f"{where}.type")
    if kind in _TEXT_PARTS:
        key = _PART_TEXT_KEY.get(kind, "text")
        return ContentPart("text", as_string(required(part, key, where), f"{where}.{key}"))
    return ContentPart(kind)


def _function_call(item: JsonObject, where: str) -> ChatToolCall:
    call_id = as_nonempty_string(required(item, "call_id", where), f"{where}.call_id")
    name = as_nonempty_string(required(item, "name", where), f"{where}.name")
    arguments = as_string(required(item, "arguments", where), f"{where}.arguments")
    return ChatToolCall(call_id, name, arguments)


def _call_output(item: JsonObject, where: str) -> ChatMessage:
    call_id = as_nonempty_string(required(item, "call_id", where), f"{where}.call_id")
    output = _content(required(item, "output", where), f"{where}.output")
    return ChatMessage("tool", output, tool_call_id=call_id)


def _reasoning_texts(item: JsonObject, where: str) -> list[str]:
    """The summary texts a client passed back; encrypted content stays opaque and unused."""
    summary: Any = item.get("summary")
    if summary is None:
        return []
    parts = as_array(summary, f"{where}.summary")
    texts = [_part(part, f"{where}.summary[{index}]").text for index, part in enumerate(parts)]
    return [text for text in texts if text]
