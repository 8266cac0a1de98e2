"""The Anthropic Messages adapter: request mapping and the call itself.

The official `anthropic` SDK (one long-lived client, the SDK's retries only) sends each request;
the response's server-sent events are read raw and translated by `anthropic_events`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import replace
from datetime import datetime
from typing import Any

import anthropic
import httpx2
import orjson

from amplifier_agent.core.errors import ProviderError, ProviderNotConfigured
from amplifier_agent.core.messages import AssistantMessage, Message, ToolMessage
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.core.stream import CallDone, StreamEvent
from amplifier_agent.providers.accumulator import CallAccumulator
from amplifier_agent.providers.anthropic_events import EventTranslator
from amplifier_agent.providers.base import (
    CONNECT_TIMEOUT_S,
    SDK_MAX_RETRIES,
    ModelRequest,
    ProviderSettings,
    ToolChoice,
    static_models,
)
from amplifier_agent.providers.options import ProviderOptions
from amplifier_agent.providers.pricing import price_call
from amplifier_agent.providers.sse import sse_events
from amplifier_agent.providers.transport import sdk_http_client
from amplifier_agent.providers.upstream_errors import (
    TRANSPORT_FAILURES,
    Upstream,
    map_failure,
)

#: Anthropic requires `max_tokens`; used when neither the request nor `config.max_tokens` sets it.
DEFAULT_MAX_TOKENS = 8192

_NAMED_TOOL_CHOICES: dict[str, dict[str, Any]] = {
    "auto": {"type": "auto"},
    "required": {"type": "any"},
    "none": {"type": "none"},
}


# -- request mapping ---------------------------------------------------------------------------


def _tool_result(message: ToolMessage) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": message.tool_call_id,
        "content": message.content,
    }
    if message.is_error:
        block["is_error"] = True
    return block


def _assistant_content(message: AssistantMessage) -> list[dict[str, Any]]:
    # Anthropic verifies a replayed thinking block by its signature; unsigned ones are dropped.
    content: list[dict[str, Any]] = [
        {"type": "thinking", "thinking": t.text, "signature": t.signature}
        for t in message.thinking
        if t.signature
    ]
    if message.content:
        content.append({"type": "text", "text": message.content})
    content += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": c.as_object()}
        for c in message.tool_calls
    ]
    return content


def to_anthropic_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Neutral messages as Messages API turns; consecutive tool results share one user turn."""
    turns: list[dict[str, Any]] = []
    merging_results = False
    for message in messages:
        if isinstance(message, ToolMessage):
            if merging_results:
                turns[-1]["content"].append(_tool_result(message))
            else:
                turns.append({"role": "user", "content": [_tool_result(message)]})
            merging_results = True
            continue
        merging_results = False
        if isinstance(message, AssistantMessage):
            content = _assistant_content(message)
            if content:  # the API rejects empty assistant turns
                turns.append({"role": "assistant", "content": content})
        else:
            turns.append({"role": "user", "content": message.content})
    return turns


def to_anthropic_tool_choice(choice: ToolChoice) -> dict[str, Any]:
    """`auto|required|none`, an OpenAI-style named function, or an Anthropic choice as is."""
    if isinstance(choice, str):
        return dict(_NAMED_TOOL_CHOICES[choice])
    function = choice.get("function")
    if choice.get("type") == "function" and isinstance(function, dict):
        return {"type": "tool", "name": function["name"]}
    if "type" not in choice and "name" in choice:
        return {"type": "tool", "name": choice["name"]}
    return dict(choice)


def build_params(request: ModelRequest, options: ProviderOptions) -> dict[str, Any]:
    """The `messages.create` keyword arguments for `request` (without `stream`)."""
    max_tokens = request.max_tokens or options.max_tokens or DEFAULT_MAX_TOKENS
    budget = options.thinking_budget_tokens
    params: dict[str, Any] = {
        "model": request.model,
        "messages": to_anthropic_messages(request.messages),
    }
    if budget > 0:
        if budget >= max_tokens:
            # The budget must fit inside max_tokens; keep the answer's own allowance on top.
            max_tokens += budget
        params["thinking"] = {"type": "enabled", "budget_tokens": budget}
    params["max_tokens"] = max_tokens
    if request.system:
        params["system"] = request.system
    if request.tools:
        params["tools"] = [
            {"name": t.name, "input_schema": t.parameters}
            | ({"description": t.description} if t.description else {})
            for t in request.tools
        ]
    if request.tools and request.tool_choice is not None:
        params["tool_choice"] = to_anthropic_tool_choice(request.tool_choice)
    if request.stop:
        params["stop_sequences"] = list(request.stop)
    # `temperature` and `top_p` are deliberately not sent: the API version this SDK speaks rejects
    # every sampling parameter (even at its default) with a 400.
    return params


def _unix_seconds(value: object) -> int:
    """`created_at` as unix seconds; compatible servers sometimes send a number or bad text."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, int | float):
        return int(value)
    try:
        return int(datetime.fromisoformat(str(value)).timestamp())
    except ValueError:
        return 0


#: Everything a call can fail with that is the upstream's doing, not ours.
_UPSTREAM_FAILURES = (anthropic.APIError, *TRANSPORT_FAILURES, orjson.JSONDecodeError)
#: How the shared error mapping names this provider in messages.
_LABEL = "Anthropic"


# -- the provider ------------------------------------------------------------------------------


class AnthropicProvider:
    """A `Provider` over the Anthropic Messages API."""

    def __init__(
        self, settings: ProviderSettings, *, http_client: httpx2.AsyncClient | None = None
    ) -> None:
        if not settings.api_key:
            raise ProviderNotConfigured(
                f"provider {settings.provider_id!r} has no API key", env_var="ANTHROPIC_API_KEY"
            )
        self._settings = settings
        self._upstream = Upstream(_LABEL, settings.api_key, settings.stall_timeout_s())
        # The read timeout is the stall watchdog: a stream silent that long has failed.
        timeout = httpx2.Timeout(settings.stall_timeout_s(), connect=CONNECT_TIMEOUT_S)
        self._client = anthropic.AsyncAnthropic(
            api_key=settings.api_key,
            base_url=settings.endpoint,
            max_retries=SDK_MAX_RETRIES,
            timeout=timeout,
            http_client=http_client or sdk_http_client(anthropic.DefaultAioHttpClient, timeout),
        )

    @property
    def provider_id(self) -> str:
        return self._settings.provider_id

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Deltas as they arrive, then one `CallDone`; the HTTP response closes with the stream."""
        started = time.monotonic()
        params = build_params(request, self._settings.options)
        translator = EventTranslator(request.model, self._upstream)
        create = self._client.messages.with_streaming_response.create
        try:
            # The SDK builds, authenticates and retries the request; the body is read raw and
            # each event decoded once. The response closes with this block, however it is left.
            async with (
                create(**params, stream=True) as raw,
                aclosing(sse_events(raw.http_response)) as events,
            ):
                async for event in events:
                    for out in translator.feed(event.event, event.data):
                        yield out
        except _UPSTREAM_FAILURES as exc:
            raise map_failure(exc, self._upstream) from exc
        if not translator.finished:
            raise ProviderError("upstream_error", "Anthropic stream ended before message_stop")
        yield self._call_done(translator.acc, started)

    def _call_done(self, acc: CallAccumulator, started: float) -> CallDone:
        cost = price_call(
            acc.usage,
            module=self._settings.module,
            model=acc.model,
            override=self._settings.options.pricing,
        )
        return CallDone(
            usage=replace(acc.usage, cost_usd=cost),
            model=acc.model,
            provider=self._settings.provider_id,
            stop_reason=acc.stop_reason or "end_turn",
            duration_ms=int((time.monotonic() - started) * 1000),
        )

    async def list_models(self) -> list[ModelInfo]:
        """Every model the API lists (all pages), or `config.models` when set; limits and
        capabilities are left empty."""
        static = static_models(self._settings.options)
        if static is not None:
            return static
        try:
            return [
                ModelInfo(
                    id=model.id,
                    display_name=model.display_name or model.id,
                    created=_unix_seconds(model.created_at),
                )
                async for model in self._client.models.list()
            ]
        except _UPSTREAM_FAILURES as exc:
            raise map_failure(exc, self._upstream) from exc

    async def aclose(self) -> None:
        await self._client.close()
