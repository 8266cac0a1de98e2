"""The `messages` array of a chat-completions request (SPEC §8.4): validated into frozen
`ChatMessage`s that keep the client's shape; `conversation.py` turns them into core messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from amplifier_agent.server.fields import (
    as_array,
    as_nonempty_string,
    as_object,
    as_string,
    bad_request,
    optional_string,
    required,
    wrong_type,
    wrong_value,
)

Role = Literal["system", "user", "assistant", "tool", "developer"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant", "tool", "developer")
MAX_MESSAGES = 2048


@dataclass(frozen=True, slots=True)
class ContentPart:
    """One element of a content array; `text` is only set for `type:"text"` parts."""

    type: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class ChatToolCall:
    """A client-side record of a tool call; `arguments` is the JSON text exactly as sent."""

    id: str
    name: str
    arguments: str


Content = str | tuple[ContentPart, ...] | None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One validated request message. `content` is `None` only for an assistant message that
    sent `null` or nothing; `reasoning` is the assistant's `reasoning_content` or `reasoning`."""

    role: Role
    content: Content
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: tuple[ChatToolCall, ...] = ()
    reasoning: str | None = None


def parse_messages(value: object) -> tuple[ChatMessage, ...]:
    items = as_array(value, "messages")
    if not items:
        raise wrong_value("messages", "must contain at least one message")
    if len(items) > MAX_MESSAGES:
        raise bad_request(
            "too_many_messages", "messages", f"At most {MAX_MESSAGES} messages are accepted"
        )
    return tuple(parse_message(item, f"messages[{index}]") for index, item in enumerate(items))


def parse_message(value: object, path: str) -> ChatMessage:
    message = as_object(value, path)
    role = _role(message, path)
    content = _content(message, role, path)
    name = optional_string(message, "name", path)
    if role == "tool":
        call_id = as_nonempty_string(
            required(message, "tool_call_id", path), f"{path}.tool_call_id"
        )
        return ChatMessage(role, content, name=name, tool_call_id=call_id)
    if role == "assistant":
        return ChatMessage(
            role,
            content,
            name=name,
            tool_calls=_tool_calls(message.get("tool_calls"), f"{path}.tool_calls"),
            reasoning=_reasoning(message, path),
        )
    # `tool_call_id` and `tool_calls` mean nothing on other roles: accepted, not forwarded.
    return ChatMessage(role, content, name=name)


def _role(message: dict[str, Any], path: str) -> Role:
    role = as_string(required(message, "role", path), f"{path}.role")
    if role not in ROLES:
        raise wrong_value(f"{path}.role", "must be one of " + ", ".join(ROLES))
    return role


def _content(message: dict[str, Any], role: Role, path: str) -> Content:
    param = f"{path}.content"
    if role == "assistant" and message.get("content") is None:
        return None
    value = required(message, "content", path)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return tuple(_part(part, f"{param}[{index}]") for index, part in enumerate(value))
    raise wrong_type(param, "a string or an array of content parts", value)


def _part(value: object, path: str) -> ContentPart:
    part = as_object(value, path)
    kind = as_nonempty_string(required(part, "type", path), f"{path}.type")
    if kind == "text":
        return ContentPart("text", as_string(required(part, "text", path), f"{path}.text"))
    return ContentPart(kind)


def _tool_calls(value: object, path: str) -> tuple[ChatToolCall, ...]:
    if value is None:
        return ()
    items = as_array(value, path)
    return tuple(_tool_call(item, f"{path}[{index}]") for index, item in enumerate(items))


def _tool_call(value: object, path: str) -> ChatToolCall:
    call = as_object(value, path)
    call_id = as_nonempty_string(required(call, "id", path), f"{path}.id")
    # Some clients omit `type`; any value other than "function" is a different tool kind.
    kind = call.get("type")
    if kind is not None and kind != "function":
        raise wrong_value(f"{path}.type", "must be 'function'")
    function = as_object(required(call, "function", path), f"{path}.function")
    name = as_nonempty_string(
        required(function, "name", f"{path}.function"), f"{path}.function.name"
    )
    arguments = as_string(
        required(function, "arguments", f"{path}.function"), f"{path}.function.arguments"
    )
    return ChatToolCall(call_id, name, arguments)


def _reasoning(message: dict[str, Any], path: str) -> str | None:
    for key in ("reasoning_content", "reasoning"):
        text = optional_string(message, key, path)
        if text:
            return text
    return None
