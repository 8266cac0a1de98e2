"""The provider protocol and the provider-neutral request every adapter accepts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from amplifier_agent.core.messages import Message, ToolSpec
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.core.stream import StreamEvent

ToolChoice = Literal["none", "auto", "required"] | dict[str, Any]

#: Connect timeout for every provider client; generation itself may legitimately take minutes.
CONNECT_TIMEOUT_S = 10.0
#: Default time a model call may go without receiving a byte before it is a stall.
DEFAULT_STALL_TIMEOUT_S = 120.0
#: The SDK's own retries are the only retry layer.
SDK_MAX_RETRIES = 2


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """One model call, provider-neutral. `None` means: use the provider's default."""

    model: str
    messages: tuple[Message, ...]
    system: str = ""
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """Everything an adapter needs, resolved by the composition root before construction.

    `endpoint` is the base URL (Anthropic/OpenAI/chat-completions), the Azure resource endpoint,
    or the Ollama host, already resolved from config, env and the credentials file. `config` is the
    provider's open `config` object (default_model, max_tokens, pricing, stall_timeout_s, ...).
    """

    provider_id: str
    module: str
    api_key: str | None = None
    endpoint: str | None = None
    api_version: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)

    def stall_timeout_s(self) -> float | None:
        """Seconds without a byte before a call is a stall; None disables the watchdog."""
        value = self.config.get("stall_timeout_s", DEFAULT_STALL_TIMEOUT_S)
        seconds = float(value)
        return None if seconds == 0 else seconds


class Provider(Protocol):
    """A model endpoint. `stream` yields deltas then exactly one `CallDone`, or raises
    `ProviderError`; nothing is retried after the first streamed event."""

    @property
    def provider_id(self) -> str: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]: ...

    async def list_models(self) -> list[ModelInfo]: ...

    async def aclose(self) -> None: ...


def static_models(config: Mapping[str, Any]) -> list[ModelInfo] | None:
    """`config.models`, a static id list that replaces live listing (SPEC §5.2), if set."""
    listed = config.get("models")
    if not listed:
        return None
    return [ModelInfo(id=str(m), display_name=str(m), created=0) for m in listed]
