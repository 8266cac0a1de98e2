"""The provider protocol and the provider-neutral request every adapter accepts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from amplifier_agent.core.messages import Message, ToolSpec
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.core.stream import StreamEvent
from amplifier_agent.providers.options import DEFAULT_STALL_TIMEOUT_S as DEFAULT_STALL_TIMEOUT_S
from amplifier_agent.providers.options import ProviderOptions

ToolChoice = Literal["none", "auto", "required"] | dict[str, Any]

#: Connect timeout for every provider client; generation itself may legitimately take minutes.
CONNECT_TIMEOUT_S = 10.0
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
    provider's open `config` object; `options` is what the adapters read from it, parsed once here
    (so a bad value fails when the provider is loaded).
    """

    provider_id: str
    module: str
    api_key: str | None = None
    endpoint: str | None = None
    api_version: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    options: ProviderOptions = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", ProviderOptions.parse(self.config))

    def stall_timeout_s(self) -> float | None:
        """Seconds without a byte before a call is a stall; None disables the watchdog."""
        return self.options.stall_timeout_s


class Provider(Protocol):
    """A model endpoint. `stream` yields deltas then exactly one `CallDone`, or raises
    `ProviderError`; nothing is retried after the first streamed event."""

    @property
    def provider_id(self) -> str: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]: ...

    async def list_models(self) -> list[ModelInfo]: ...

    async def aclose(self) -> None: ...


def static_models(options: ProviderOptions) -> list[ModelInfo] | None:
    """`config.models`, a static id list that replaces live listing (SPEC §5.2), if set."""
    if not options.models:
        return None
    return [ModelInfo(id=m, display_name=m, created=0) for m in options.models]
