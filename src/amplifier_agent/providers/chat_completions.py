"""The OpenAI Chat Completions adapter, one wire format behind four endpoints.

`openai`, `azure-openai`, `ollama` and `chat-completions` differ only in base URL, key, client
class and the name of the max-tokens field; everything else here is the shared wire mapping.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import replace
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletionChunk

from amplifier_agent.core.catalog import KNOWN_PROVIDERS
from amplifier_agent.core.errors import ProviderError, ProviderNotConfigured
from amplifier_agent.core.messages import (
    Message,
    ThinkingBlock,
    ToolCall,
    ToolMessage,
    ToolSpec,
    UserMessage,
)
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.core.stream import (
    CallDone,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingDone,
    ToolCallDone,
)
from amplifier_agent.core.usage import Usage
from amplifier_agent.providers.base import (
    CONNECT_TIMEOUT_S,
    SDK_MAX_RETRIES,
    ModelRequest,
    ProviderSettings,
    ToolChoice,
    static_models,
)
from amplifier_agent.providers.pricing import price_call
from amplifier_agent.providers.upstream_errors import describe, redact, status_error

#: Sent where no key exists (Ollama, keyless compatible servers): the SDK insists on one.
PLACEHOLDER_API_KEY = "no-key"
AZURE_DEFAULT_API_VERSION = "2024-10-21"
OLLAMA_DEFAULT_HOST = "http://localhost:11434"
#: OpenAI's own endpoints reject `max_tokens` for reasoning models; compatible servers often
#: know only `max_tokens`.
_MAX_COMPLETION_TOKENS_MODULES = frozenset({"openai", "azure-openai"})
_STOP_REASONS = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
}


class ChatCompletionsProvider:
    """A `Provider` over the Chat Completions API, holding one long-lived SDK client."""

    def __init__(
        self, settings: ProviderSettings, *, http_client: httpx2.AsyncClient | None = None
    ) -> None:
        self._settings = settings
        self._owns_http = http_client is None
        self._client = build_client(settings, http_client)

    @property
    def provider_id(self) -> str:
        return self._settings.provider_id

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        started = time.monotonic()
        assembler = _Assembler()
        try:
            chunks = await self._client.chat.completions.create(
                stream=True, **request_params(request, self._settings)
            )
            # Leaving this block for any reason (end, error, a consumer that stopped early)
            # closes the response, so the HTTP connection never outlives the call.
            async with chunks:
                async for chunk in chunks:
                    for event in assembler.feed(chunk):
                        yield event
        except (openai.APIError, httpx2.TransportError, json.JSONDecodeError) as exc:
            raise map_error(exc, self._settings) from exc
        yield self._call_done(assembler, request.model, started)

    def _call_done(self, assembler: _Assembler, model: str, started: float) -> CallDone:
        if assembler.finish_reason is None:
            raise ProviderError("upstream_error", "stream ended before a finish reason")
        served_model = assembler.model or model
        cost = None
        if assembler.usage_seen:
            cost = price_call(
                assembler.usage,
                module=self._settings.module,
                model=served_model,
                override=self._settings.config.get("pricing"),
            )
        return CallDone(
            usage=replace(assembler.usage, cost_usd=cost),
            model=served_model,
            provider=self._settings.provider_id,
            stop_reason=_STOP_REASONS.get(assembler.finish_reason, assembler.finish_reason),
            duration_ms=int((time.monotonic() - started) * 1000),
        )

    async def list_models(self) -> list[ModelInfo]:
        config = self._settings.config
        static = static_models(config)
        if static is not None:
            return static
        if self._settings.module == "azure-openai":
            return _azure_models(config)
        try:
            page = await self._client.models.list()
        except (openai.APIError, httpx2.TransportError, json.JSONDecodeError) as exc:
            raise map_error(exc, self._settings) from exc
        return [
            ModelInfo(id=m.id, display_name=m.id, created=int(m.created or 0)) for m in page.data
        ]

    async def aclose(self) -> None:
        if self._owns_http:
            await self._client.close()


def _azure_models(config: Mapping[str, Any]) -> list[ModelInfo]:
    """Azure's API cannot list a resource's deployments, so the configured one is the list."""
    default = config.get("default_model")
    if not default:
        raise ProviderError(
            "upstream_error",
            "azure-openai cannot list its deployments: set config.models or config.default_model",
        )
    return [ModelInfo(id=str(default), display_name=str(default), created=0)]


# -- client construction ---------------------------------------------------------------------


def build_client(
    settings: ProviderSettings, http_client: httpx2.AsyncClient | None = None
) -> openai.AsyncOpenAI:
    """The SDK client for `settings.module`, with our retry and timeout policy."""
    timeout = httpx2.Timeout(settings.stall_timeout_s(), connect=CONNECT_TIMEOUT_S)
    module = settings.module
    if module == "azure-openai":
        return openai.AsyncAzureOpenAI(
            azure_endpoint=_required_endpoint(settings),
            api_version=settings.api_version or AZURE_DEFAULT_API_VERSION,
            api_key=_required_key(settings),
            max_retries=SDK_MAX_RETRIES,
            timeout=timeout,
            http_client=http_client,
        )
    return openai.AsyncOpenAI(
        base_url=base_url_for(settings),
        api_key=_api_key(settings),
        max_retries=SDK_MAX_RETRIES,
        timeout=timeout,
        http_client=http_client,
    )


def base_url_for(settings: ProviderSettings) -> str | None:
    """None lets the SDK use its default (only `openai` has one)."""
    if settings.module == "ollama":
        host = (settings.endpoint or OLLAMA_DEFAULT_HOST).rstrip("/")
        if "://" not in host:
            host = f"http://{host}"
        return host if host.endswith("/v1") else f"{host}/v1"
    if settings.module == "chat-completions":
        return _required_endpoint(settings)
    return settings.endpoint or None


def _api_key(settings: ProviderSettings) -> str:
    if settings.module in ("ollama", "chat-completions"):
        return settings.api_key or PLACEHOLDER_API_KEY
    return _required_key(settings)


def _required_key(settings: ProviderSettings) -> str:
    if settings.api_key:
        return settings.api_key
    spec = KNOWN_PROVIDERS.get(settings.module)
    env = spec.credential_env if spec else None
    raise ProviderNotConfigured(f"{settings.provider_id}: no API key configured", env_var=env)


def _required_endpoint(settings: ProviderSettings) -> str:
    if settings.endpoint:
        return settings.endpoint
    spec = KNOWN_PROVIDERS.get(settings.module)
    env = spec.endpoint_env[0] if spec and spec.endpoint_env else None
    raise ProviderNotConfigured(f"{settings.provider_id}: no endpoint configured", env_var=env)


# -- request mapping -------------------------------------------------------------------------


def request_params(request: ModelRequest, settings: ProviderSettings) -> dict[str, Any]:
    """The `chat.completions.create` keyword arguments for `request` (without `stream`)."""
    config = settings.config
    params: dict[str, Any] = {
        "model": request.model,
        "messages": wire_messages(request.system, request.messages),
        "stream_options": {"include_usage": True},
    }
    if request.tools:
        # Sent as-is through `extra_body`: the SDK's typed-params transformer otherwise walks
        # every JSON schema on every call, and the schemas are already plain JSON.
        params["extra_body"] = {"tools": [wire_tool(spec) for spec in request.tools]}
    if request.tool_choice is not None:
        params["tool_choice"] = wire_tool_choice(request.tool_choice)
    max_tokens = request.max_tokens or config.get("max_tokens")
    if max_tokens:
        field = (
            "max_completion_tokens"
            if settings.module in _MAX_COMPLETION_TOKENS_MODULES
            else "max_tokens"
        )
        params[field] = int(max_tokens)
    optional = {
        "temperature": request.temperature
        if request.temperature is not None
        else config.get("temperature"),
        "top_p": request.top_p,
        "stop": list(request.stop) or None,
        "reasoning_effort": config.get("effort"),
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    return params


def wire_messages(system: str, messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    wire: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    wire += [wire_message(m) for m in messages]
    return wire


def wire_message(message: Message) -> dict[str, Any]:
    """One message; reasoning is not replayed (compatible servers reject it in input)."""
    if isinstance(message, UserMessage):
        return {"role": "user", "content": message.content}
    if isinstance(message, ToolMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    wire: dict[str, Any] = {"role": "assistant", "content": message.content or None}
    if message.tool_calls:
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in message.tool_calls
        ]
    return wire


def wire_tool(spec: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": spec.name, "parameters": spec.parameters}
    if spec.description:
        function["description"] = spec.description
    return {"type": "function", "function": function}


def wire_tool_choice(choice: ToolChoice) -> Any:
    """Strings pass through; `{"name": X}` means: call tool X."""
    if isinstance(choice, dict) and "name" in choice and "type" not in choice:
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


# -- stream assembly -------------------------------------------------------------------------


class _PendingCall:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []

    def done(self) -> ToolCallDone:
        text = "".join(self.arguments)
        return ToolCallDone(ToolCall(id=self.id, name=self.name, arguments=parse_arguments(text)))


def parse_arguments(text: str) -> dict[str, Any]:
    """The streamed arguments JSON as a dict; anything else is kept raw for the model to see."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {"_raw_arguments": text}
    return value if isinstance(value, dict) else {"_raw_arguments": text}


class _Assembler:
    """Turns SDK chunks into stream events; per call, never shared."""

    def __init__(self) -> None:
        self.thinking: list[str] | None = None
        self.calls: dict[int, _PendingCall] = {}
        self.finish_reason: str | None = None
        self.model = ""
        self.usage = Usage()
        self.usage_seen = False

    def feed(self, chunk: ChatCompletionChunk) -> Iterator[StreamEvent]:
        self.model = chunk.model or self.model
        if chunk.usage is not None:
            self._take_usage(chunk)
        for choice in chunk.choices or ():
            yield from self._delta(choice.delta)
            if choice.finish_reason is not None and self.finish_reason is None:
                self.finish_reason = choice.finish_reason
                yield from self._close_thinking()
                yield from (self.calls[i].done() for i in sorted(self.calls))

    def _delta(self, delta: Any) -> Iterator[StreamEvent]:
        if delta is None:
            return
        reasoning = getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None)
        if isinstance(reasoning, str) and reasoning:
            self.thinking = [*(self.thinking or []), reasoning]
            yield ThinkingDelta(reasoning)
        if delta.content:
            yield from self._close_thinking()
            yield TextDelta(delta.content)
        for part in delta.tool_calls or ():
            yield from self._close_thinking()
            pending = self.calls.setdefault(self._slot(part.index, part.id), _PendingCall())
            pending.id = part.id or pending.id
            if part.function is not None:
                pending.name = part.function.name or pending.name
                pending.arguments.append(part.function.arguments or "")

    def _slot(self, index: int | None, call_id: str | None) -> int:
        """Some compatible servers omit `index`: a new id then opens the next call."""
        if index is not None:
            return index
        if call_id and all(c.id != call_id for c in self.calls.values()):
            return len(self.calls)
        return max(self.calls, default=0)

    def _close_thinking(self) -> Iterator[StreamEvent]:
        if self.thinking is not None:
            yield ThinkingDone(ThinkingBlock(text="".join(self.thinking)))
            self.thinking = None

    def _take_usage(self, chunk: ChatCompletionChunk) -> None:
        usage = chunk.usage
        assert usage is not None
        details = usage.prompt_tokens_details
        cached = (details.cached_tokens or 0) if details is not None else 0
        self.usage_seen = True
        self.usage = Usage(
            input_tokens=max(0, usage.prompt_tokens - cached),
            output_tokens=usage.completion_tokens,
            cache_read_tokens=cached,
        )


# -- errors ----------------------------------------------------------------------------------


def map_error(exc: Exception, settings: ProviderSettings) -> ProviderError:
    """One SDK or transport failure as the `ProviderError` the faces map (SPEC §8.7)."""
    name = settings.provider_id
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, settings)
    cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) else exc
    if isinstance(cause, httpx2.ConnectTimeout | httpx2.PoolTimeout | httpx2.ConnectError):
        return ProviderError("upstream_unavailable", f"{name} unreachable: {describe(cause)}")
    if isinstance(exc, openai.APITimeoutError) or isinstance(cause, httpx2.TimeoutException):
        stall = settings.stall_timeout_s()
        return ProviderError("upstream_timeout", f"{name} sent nothing for {stall} s")
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return ProviderError("upstream_error", f"{name} connection lost: {describe(cause)}")
    if isinstance(exc, json.JSONDecodeError):
        return ProviderError("upstream_error", f"{name} sent a malformed stream: {exc}")
    text = redact(getattr(exc, "message", str(exc)), settings.api_key)
    return ProviderError("upstream_error", f"{name} failed mid-stream: {text}")


def _status_error(exc: openai.APIStatusError, settings: ProviderSettings) -> ProviderError:
    body = exc.body
    text = body.get("message") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        text = str(body) if body is not None else exc.message
    redacted = redact(text, settings.api_key)
    return status_error(settings.provider_id, exc.status_code, redacted, exc.response.headers)
