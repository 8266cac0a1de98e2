"""Provider-neutral conversation messages and the tool schemas offered to a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class ThinkingBlock:
    """One block of model reasoning; `signature` is what Anthropic needs to replay it."""

    text: str
    signature: str = ""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool invocation requested by the model; `host` marks calls the client executes."""

    id: str
    name: str
    arguments: dict[str, Any]
    host: bool = False


@dataclass(frozen=True, slots=True)
class UserMessage:
    content: str
    role: Literal["user"] = "user"


@dataclass(frozen=True, slots=True)
class AssistantMessage:
    """A model reply; `interrupted` marks partial text kept from a cancelled turn."""

    content: str = ""
    thinking: tuple[ThinkingBlock, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    interrupted: bool = False
    role: Literal["assistant"] = "assistant"


@dataclass(frozen=True, slots=True)
class ToolMessage:
    """The result of one tool call; `internal` marks steps an HTTP client never saw."""

    tool_call_id: str
    name: str
    content: str
    is_error: bool = False
    internal: bool = False
    role: Literal["tool"] = "tool"


Message = UserMessage | AssistantMessage | ToolMessage


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """What a model is told about a tool: a name, a description and a JSON schema."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
