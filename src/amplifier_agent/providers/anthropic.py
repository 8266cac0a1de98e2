"""The Anthropic Messages adapter: request mapping, stream decoding and error mapping.

It drives the official `anthropic` SDK (one long-lived client, the SDK's retries only) and turns
its raw stream events into provider-neutral `StreamEvent`s.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import anthropic
import httpx2
from anthropic.types import (
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RawMessageStreamEvent,
)

from amplifier_agent.core.errors import ProviderError, ProviderNotConfigured
from amplifier_agent.core.messages import AssistantMessage, Message, ToolCall, ToolMessage
from amplifier_agent.core.messages import ThinkingBlock as NeutralThinking
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
from amplifier_agent.providers.upstream_errors import MAX_ERROR_TEXT, causes, status_error

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
        {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
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


def build_params(request: ModelRequest, config: Mapping[str, Any]) -> dict[str, Any]:
    """The `messages.create` keyword arguments for `request` (without `stream`)."""
    max_tokens = int(request.max_tokens or config.get("max_tokens") or DEFAULT_MAX_TOKENS)
    budget = int(config.get("thinking_budget_tokens") or 0)
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


# -- stream decoding ---------------------------------------------------------------------------


def parse_arguments(text: str) -> dict[str, Any]:
    """Streamed tool input as a dict; anything but a JSON object is kept raw."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {"_raw_arguments": text}
    return value if isinstance(value, dict) else {"_raw_arguments": text}


@dataclass(frozen=True, slots=True)
class _OpenBlock:
    kind: str
    parts: tuple[str, ...] = ()
    signature: str = ""
    tool_id: str = ""
    tool_name: str = ""

    def add(self, part: str) -> _OpenBlock:
        return replace(self, parts=(*self.parts, part))


class _StreamDecoder:
    """Folds raw Messages stream events into neutral events plus the call's final facts."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.usage = Usage()
        self.stop_reason = "end_turn"
        self.finished = False
        self._blocks: dict[int, _OpenBlock] = {}

    def feed(self, event: RawMessageStreamEvent) -> list[StreamEvent]:
        if isinstance(event, RawMessageStartEvent):
            self.model = event.message.model or self.model
            u = event.message.usage
            self.usage = Usage(
                input_tokens=u.input_tokens or 0,
                output_tokens=u.output_tokens or 0,
                cache_read_tokens=u.cache_read_input_tokens or 0,
                cache_write_tokens=u.cache_creation_input_tokens or 0,
            )
        elif isinstance(event, RawContentBlockStartEvent):
            self._start(event)
        elif isinstance(event, RawContentBlockDeltaEvent):
            return self._delta(event)
        elif isinstance(event, RawContentBlockStopEvent):
            return self._stop(event.index)
        elif isinstance(event, RawMessageDeltaEvent):
            self._message_delta(event)
        elif isinstance(event, RawMessageStopEvent):
            self.finished = True
        return []

    def _start(self, event: RawContentBlockStartEvent) -> None:
        block = event.content_block
        if block.type == "tool_use":
            # Some compatible servers send the whole input at start instead of as deltas.
            initial = json.dumps(block.input) if block.input else ""
            self._blocks[event.index] = _OpenBlock(
                "tool_use", (initial,), tool_id=block.id, tool_name=block.name
            )
        else:
            self._blocks[event.index] = _OpenBlock(block.type)

    def _delta(self, event: RawContentBlockDeltaEvent) -> list[StreamEvent]:
        block = self._blocks.get(event.index, _OpenBlock("text"))
        delta = event.delta
        out: list[StreamEvent] = []
        if delta.type == "text_delta":
            out = [TextDelta(delta.text)] if delta.text else []
        elif delta.type == "thinking_delta":
            block = block.add(delta.thinking)
            out = [ThinkingDelta(delta.thinking)] if delta.thinking else []
        elif delta.type == "signature_delta":
            block = replace(block, signature=delta.signature)
        elif delta.type == "input_json_delta":
            block = block.add(delta.partial_json)
        self._blocks[event.index] = block
        return out

    def _stop(self, index: int) -> list[StreamEvent]:
        block = self._blocks.pop(index, None)
        if block is None:
            return []
        text = "".join(block.parts)
        if block.kind == "thinking":
            return [ThinkingDone(NeutralThinking(text, block.signature))]
        if block.kind == "tool_use":
            call = ToolCall(block.tool_id, block.tool_name, parse_arguments(text))
            return [ToolCallDone(call)]
        return []

    def _message_delta(self, event: RawMessageDeltaEvent) -> None:
        if event.delta.stop_reason:
            self.stop_reason = event.delta.stop_reason
        u = event.usage
        # Counts here are cumulative and final; the start event's output count is provisional.
        self.usage = replace(
            self.usage,
            output_tokens=_or(u.output_tokens, self.usage.output_tokens),
            input_tokens=_or(u.input_tokens, self.usage.input_tokens),
            cache_read_tokens=_or(u.cache_read_input_tokens, self.usage.cache_read_tokens),
            cache_write_tokens=_or(u.cache_creation_input_tokens, self.usage.cache_write_tokens),
        )


def _or(value: int | None, fallback: int) -> int:
    return fallback if value is None else value


# -- error mapping -----------------------------------------------------------------------------


def _status_error(exc: anthropic.APIStatusError, text: str) -> ProviderError:
    if not exc.response.is_success:
        return status_error("Anthropic", exc.status_code, text, exc.response.headers)
    # An `error` event inside a stream that had already started.
    message = f"Anthropic stream error ({exc.type or 'unknown'}): {text}"
    if exc.type in ("authentication_error", "permission_error"):
        return ProviderError("upstream_auth_error", message)
    if exc.type == "rate_limit_error":
        return ProviderError("rate_limited", message)
    return ProviderError("upstream_error", message)


def _transport_error(exc: BaseException) -> ProviderError:
    chain = causes(exc)
    if any(isinstance(e, httpx2.ConnectTimeout | httpx2.ConnectError) for e in chain):
        return ProviderError("upstream_unavailable", f"cannot reach Anthropic: {chain[-1]!r}")
    if any(isinstance(e, httpx2.TimeoutException) for e in chain):
        return ProviderError("upstream_timeout", "Anthropic stopped sending data (stall timeout)")
    return ProviderError("upstream_error", f"connection to Anthropic broke: {chain[-1]!r}")


def map_error(exc: BaseException, *, api_key: str | None = None) -> ProviderError:
    """The `ProviderError` for an SDK or transport failure; the key never reaches the text."""
    if isinstance(exc, anthropic.APIStatusError):
        text = (exc.api_message or str(exc.body or exc.message))[:MAX_ERROR_TEXT]
        error = _status_error(exc, text)
    elif isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        error = _transport_error(exc)
    else:
        error = ProviderError("upstream_error", f"malformed Anthropic response: {exc}")
    if api_key and api_key in error.detail:
        redacted = error.detail.replace(api_key, "[redacted]")
        error = ProviderError(
            error.upstream, redacted, status=error.status, retry_after=error.retry_after
        )
    return error


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
_UPSTREAM_FAILURES = (anthropic.APIError, httpx2.TransportError, json.JSONDecodeError)


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
        params = build_params(request, self._settings.config)
        decoder = _StreamDecoder(request.model)
        try:
            raw = await self._client.messages.create(**params, stream=True)
            async with raw:
                async for event in raw:
                    for out in decoder.feed(event):
                        yield out
        except _UPSTREAM_FAILURES as exc:
            raise map_error(exc, api_key=self._settings.api_key) from exc
        if not decoder.finished:
            raise ProviderError("upstream_error", "Anthropic stream ended before message_stop")
        yield self._call_done(decoder, started)

    def _call_done(self, decoder: _StreamDecoder, started: float) -> CallDone:
        cost = price_call(
            decoder.usage,
            module=self._settings.module,
            model=decoder.model,
            override=self._settings.config.get("pricing"),
        )
        return CallDone(
            usage=replace(decoder.usage, cost_usd=cost),
            model=decoder.model,
            provider=self._settings.provider_id,
            stop_reason=decoder.stop_reason,
            duration_ms=int((time.monotonic() - started) * 1000),
        )

    async def list_models(self) -> list[ModelInfo]:
        """Every model the API lists (all pages), or `config.models` when set; limits and
        capabilities are left empty."""
        static = static_models(self._settings.config)
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
            raise map_error(exc, api_key=self._settings.api_key) from exc

    async def aclose(self) -> None:
        await self._client.close()
