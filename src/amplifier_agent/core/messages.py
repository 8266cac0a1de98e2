"""Provider-neutral conversation messages and the tool schemas offered to a model."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

#: Where undecodable arguments text is kept when a call must be written as one JSON object
#: (history replayed to a model, transcripts), so what the model sent is never lost.
RAW_ARGUMENTS_KEY = "_raw_arguments"


@dataclass(frozen=True, slots=True)
class ThinkingBlock:
    """One block of model reasoning; `signature` is what Anthropic needs to replay it."""

    text: str
    signature: str = ""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool invocation requested by the model; `host` marks calls the client executes.

    `raw_arguments` is the model's arguments text when it was not one JSON object; `arguments`
    is then empty and the call cannot run.
    """

    id: str
    name: str
    arguments: dict[str, Any]
    host: bool = False
    raw_arguments: str | None = None

    @classmethod
    def from_text(
        cls,
        call_id: str,
        name: str,
        text: str,
        *,
        host: bool = False,
        loads: Callable[[str], Any] = json.loads,
    ) -> ToolCall:
        """A call from streamed arguments text: empty means none, a JSON object is decoded,
        anything else is kept raw."""
        if not text.strip():
            return cls(call_id, name, {}, host)
        try:
            value = loads(text)
        except ValueError:  # both json's and orjson's decode errors are ValueErrors
            value = None
        if isinstance(value, dict):
            return cls(call_id, name, value, host)
        return cls(call_id, name, {}, host, raw_arguments=text)

    @classmethod
    def from_object(
        cls,
        call_id: str,
        name: str,
        arguments: dict[str, Any],
        *,
        host: bool = False,
    ) -> ToolCall:
        """The inverse of `as_object`: a stored or replayed arguments object back as a call."""
        raw = arguments.get(RAW_ARGUMENTS_KEY)
        if len(arguments) == 1 and isinstance(raw, str):
            return cls(call_id, name, {}, host, raw_arguments=raw)
        return cls(call_id, name, arguments, host)

    def as_object(self) -> dict[str, Any]:
        """The arguments as one JSON object, raw text kept under `RAW_ARGUMENTS_KEY`."""
        if self.raw_arguments is None:
            return self.arguments
        return {RAW_ARGUMENTS_KEY: self.raw_arguments}


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
