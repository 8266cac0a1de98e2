"""The Anthropic Messages adapter: request mapping and stream translation.

The official `anthropic` SDK (one long-lived client, the SDK's retries only) sends each request;
the response's server-sent events are read raw and turned into provider-neutral `StreamEvent`s.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import anthropic
import httpx2
import orjson

from amplifier_agent.core.errors import ProviderError, ProviderNotConfigured
from amplifier_agent.core.messages import AssistantMessage, Message, ToolMessage
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.core.stream import CallDone, StreamEvent, TextDelta
from amplifier_agent.core.usage import Usage
from amplifier_agent.providers.accumulator import CallAccumulator
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
from amplifier_agent.providers.upstream_errors import (
    TRANSPORT_FAILURES,
    Upstream,
    malformed,
    map_failure,
    stream_error_event,
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


# -- stream translation ------------------------------------------------------------------------


class _EventTranslator:
    """Folds decoded Messages stream events into neutral events plus the call's final facts."""

    def __init__(self, model: str, upstream: Upstream) -> None:
        self.acc = CallAccumulator(model)
        self.upstream = upstream
        self.finished = False
        self._kinds: dict[int, str] = {}  # open content blocks by index

    def feed(self, name: str, data: bytes) -> list[StreamEvent]:
        """One SSE event; pings and nameless events carry nothing."""
        if name == "error":
            raise stream_error_event(_error_of(data), self.upstream)
        if not name or name == "ping" or not data:
            return []
        event = orjson.loads(data)
        if not isinstance(event, dict):
            raise malformed(self.upstream, f"a {name} event is not a JSON object")
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(event.get("index"), event.get("delta") or {})
        if kind == "content_block_start":
            self._start(event.get("index"), event.get("content_block") or {})
        elif kind == "content_block_stop":
            return self._stop(event.get("index"))
        elif kind == "message_start":
            self._message_start(event.get("message") or {})
        elif kind == "message_delta":
            self._message_delta(event)
        elif kind == "message_stop":
            self.finished = True
        return []

    def _start(self, index: Any, block: dict[str, Any]) -> None:
        kind = block.get("type") or "text"
        self._kinds[index] = kind
        if kind == "thinking":
            self.acc.open_thinking()
        elif kind == "tool_use":
            pending = self.acc.call(index)
            pending.call_id, pending.name = block.get("id") or "", block.get("name") or ""
            # Some compatible servers send the whole input at start instead of as deltas.
            if block.get("input"):
                pending.parts.append(orjson.dumps(block["input"]).decode())

    def _delta(self, index: Any, delta: dict[str, Any]) -> list[StreamEvent]:
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            return [TextDelta(text)] if text else []
        if kind == "thinking_delta":
            thought = self.acc.think(delta.get("thinking") or "")
            return [thought] if thought is not None else []
        if kind == "signature_delta":
            self.acc.sign(delta.get("signature") or "")
        elif kind == "input_json_delta" and index in self.acc.calls:
            self.acc.calls[index].parts.append(delta.get("partial_json") or "")
        return []

    def _stop(self, index: Any) -> list[StreamEvent]:
        kind = self._kinds.pop(index, None)
        done: StreamEvent | None = None
        if kind == "thinking":
            done = self.acc.close_thinking()
        elif kind == "tool_use":
            done = self.acc.close_call(index)
        return [done] if done is not None else []

    def _message_start(self, message: dict[str, Any]) -> None:
        self.acc.model = message.get("model") or self.acc.model
        u = message.get("usage") or {}
        self.acc.usage = Usage(
            input_tokens=u.get("input_tokens") or 0,
            output_tokens=u.get("output_tokens") or 0,
            cache_read_tokens=u.get("cache_read_input_tokens") or 0,
            cache_write_tokens=u.get("cache_creation_input_tokens") or 0,
        )

    def _message_delta(self, event: dict[str, Any]) -> None:
        stop_reason = (event.get("delta") or {}).get("stop_reason")
        if stop_reason:
            self.acc.stop_reason = stop_reason
        u, usage = event.get("usage") or {}, self.acc.usage
        # Counts here are cumulative and final; the start event's output count is provisional.
        self.acc.usage = replace(
            usage,
            output_tokens=_or(u.get("output_tokens"), usage.output_tokens),
            input_tokens=_or(u.get("input_tokens"), usage.input_tokens),
            cache_read_tokens=_or(u.get("cache_read_input_tokens"), usage.cache_read_tokens),
            cache_write_tokens=_or(u.get("cache_creation_input_tokens"), usage.cache_write_tokens),
        )


def _or(value: int | None, fallback: int) -> int:
    return fallback if value is None else value


def _error_of(data: bytes) -> Any:
    """An `error` event's error object; its raw text when it is not the documented JSON."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data.decode("utf-8", "replace")
    return body.get("error", body) if isinstance(body, dict) else body


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
            http_client=http_client,
        )

    @property
    def provider_id(self) -> str:
        return self._settings.provider_id

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Deltas as they arrive, then one `CallDone`; the HTTP response closes with the stream."""
        started = time.monotonic()
        params = build_params(request, self._settings.options)
        translator = _EventTranslator(request.model, self._upstream)
        create = self._client.messages.with_streaming_response.create
        try:
            # The SDK builds, authenticates and retries the request; the body is read raw and
            # each event decoded once. The response closes with this block, however it is left.
            async with create(**params, stream=True) as raw:
                async for event in sse_events(raw.http_response):
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
