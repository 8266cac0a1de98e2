"""The OpenAI Chat Completions adapter, one wire format behind four endpoints.

`openai`, `azure-openai`, `ollama` and `chat-completions` differ only in base URL, key, client
class and the name of the max-tokens field; everything else here is the shared wire mapping.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx2
import openai
import orjson

from amplifier_agent.core.catalog import KNOWN_PROVIDERS
from amplifier_agent.core.errors import ProviderError, ProviderNotConfigured
from amplifier_agent.core.messages import (
    Message,
    ToolMessage,
    ToolSpec,
    UserMessage,
)
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.core.stream import (
    CallDone,
    StreamEvent,
)
from amplifier_agent.providers.accumulator import CallAccumulator
from amplifier_agent.providers.base import (
    CONNECT_TIMEOUT_S,
    SDK_MAX_RETRIES,
    ModelRequest,
    ProviderSettings,
    ToolChoice,
    static_models,
)
from amplifier_agent.providers.chat_chunks import ChunkTranslator
from amplifier_agent.providers.options import ProviderOptions
from amplifier_agent.providers.pricing import price_call
from amplifier_agent.providers.sse import drain, sse_events
from amplifier_agent.providers.transport import sdk_http_client
from amplifier_agent.providers.upstream_errors import (
    TRANSPORT_FAILURES,
    Upstream,
    map_failure,
)

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


#: Everything a call can fail with that is the upstream's doing, not ours.
_UPSTREAM_FAILURES = (openai.APIError, *TRANSPORT_FAILURES, orjson.JSONDecodeError)
_AUTHENTICATED: openai.RequestOptions = {"security": {"bearer_auth": True}}


class ChatCompletionsProvider:
    """A `Provider` over the Chat Completions API, holding one long-lived SDK client."""

    def __init__(
        self, settings: ProviderSettings, *, http_client: httpx2.AsyncClient | None = None
    ) -> None:
        self._settings = settings
        self._owns_http = http_client is None
        self._client = build_client(settings, http_client)
        self._upstream = Upstream(
            settings.provider_id, settings.api_key, settings.stall_timeout_s()
        )

    @property
    def provider_id(self) -> str:
        return self._settings.provider_id

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        started = time.monotonic()
        translator = ChunkTranslator(self._upstream)
        try:
            response = await self._send(request_body(request, self._settings))
            # Leaving this block for any reason (end, error, a consumer that stopped early)
            # closes the response, so the connection never outlives the call.
            events = sse_events(response)
            try:
                async for event in events:
                    if event.data.startswith(b"[DONE]"):
                        await drain(events)
                        break
                    for out in translator.feed(orjson.loads(event.data)):
                        yield out
            finally:
                await events.aclose()
                await response.aclose()
        except _UPSTREAM_FAILURES as exc:
            raise map_failure(exc, self._upstream) from exc
        yield self._call_done(translator.acc, request.model, started)

    async def _send(self, body: dict[str, Any]) -> httpx2.Response:
        """The streaming response to `body`, its status already checked.

        The SDK's generic `post` (its documented way to send a body of our own) still builds,
        authenticates and retries the request and raises its usual errors, but skips the typed
        `create`'s per-call walk of the whole body, which costs milliseconds on a long history.
        The body goes as `content`, already encoded: orjson writes the same compact UTF-8 JSON
        as the SDK's pure-Python encoder at a fraction of the CPU (tool schemas are most of it).
        Azure's client reads the deployment from the body as a mapping, so it gets the mapping.
        """
        if self._settings.module == "azure-openai":
            return await self._client.post(
                "/chat/completions",
                body=body,
                cast_to=httpx2.Response,
                options=_AUTHENTICATED,
                stream=True,
            )
        return await self._client.post(
            "/chat/completions",
            content=orjson.dumps(body),
            cast_to=httpx2.Response,
            options=_AUTHENTICATED,
            stream=True,
        )

    def _call_done(self, acc: CallAccumulator, model: str, started: float) -> CallDone:
        if acc.stop_reason is None:
            raise ProviderError("upstream_error", "stream ended before a finish reason")
        served_model = acc.model or model
        cost = None
        if acc.usage_seen:
            cost = price_call(
                acc.usage,
                module=self._settings.module,
                model=served_model,
                override=self._settings.options.pricing,
            )
        return CallDone(
            usage=replace(acc.usage, cost_usd=cost),
            model=served_model,
            provider=self._settings.provider_id,
            stop_reason=_STOP_REASONS.get(acc.stop_reason, acc.stop_reason),
            duration_ms=int((time.monotonic() - started) * 1000),
        )

    async def list_models(self) -> list[ModelInfo]:
        static = static_models(self._settings.options)
        if static is not None:
            return static
        if self._settings.module == "azure-openai":
            return _azure_models(self._settings.options)
        try:
            page = await self._client.models.list()
        except _UPSTREAM_FAILURES as exc:
            raise map_failure(exc, self._upstream) from exc
        return [
            ModelInfo(id=m.id, display_name=m.id, created=int(m.created or 0)) for m in page.data
        ]

    async def aclose(self) -> None:
        if self._owns_http:
            await self._client.close()


def _azure_models(options: ProviderOptions) -> list[ModelInfo]:
    """Azure's API cannot list a resource's deployments, so the configured one is the list."""
    default = options.default_model
    if not default:
        raise ProviderError(
            "upstream_error",
            "azure-openai cannot list its deployments: set config.models or config.default_model",
        )
    return [ModelInfo(id=default, display_name=default, created=0)]


# -- client construction ---------------------------------------------------------------------


def build_client(
    settings: ProviderSettings, http_client: httpx2.AsyncClient | None = None
) -> openai.AsyncOpenAI:
    """The SDK client for `settings.module`, with our retry and timeout policy."""
    timeout = httpx2.Timeout(settings.stall_timeout_s(), connect=CONNECT_TIMEOUT_S)
    if http_client is None:
        http_client = sdk_http_client(openai.DefaultAioHttpClient, timeout)
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


def request_body(request: ModelRequest, settings: ProviderSettings) -> dict[str, Any]:
    """The streaming `chat/completions` request body for `request`, plain JSON."""
    options = settings.options
    params: dict[str, Any] = {
        "model": request.model,
        "messages": wire_messages(request.system, request.messages),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.tools:
        params["tools"] = [wire_tool(spec) for spec in request.tools]
    if request.tool_choice is not None:
        params["tool_choice"] = wire_tool_choice(request.tool_choice)
    max_tokens = request.max_tokens or options.max_tokens
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
        else options.temperature,
        "top_p": request.top_p,
        "stop": list(request.stop) or None,
        "reasoning_effort": options.effort,
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
                "function": {"name": call.name, "arguments": json.dumps(call.as_object())},
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
