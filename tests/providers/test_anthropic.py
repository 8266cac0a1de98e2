"""The Anthropic adapter through the official SDK against the loopback fake Messages API."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx2
import pytest

from amplifier_agent.core.errors import ProviderError, ProviderNotConfigured
from amplifier_agent.core.messages import (
    AssistantMessage,
    Message,
    ThinkingBlock,
    ToolCall,
    ToolMessage,
    ToolSpec,
    UserMessage,
)
from amplifier_agent.core.stream import (
    CallDone,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingDone,
    ToolCallDone,
)
from amplifier_agent.providers.anthropic import AnthropicProvider
from amplifier_agent.providers.base import ModelRequest, ProviderSettings
from testkit import Block, FakeUpstream, RecordedRequest, Reply, reply_text, reply_tool_calls

API_KEY = "sk-ant-test-0123456789"
#: Not on the SDK's deprecation list, so calls stay free of its warnings.
MODEL = "claude-sonnet-4-6"
#: Makes the SDK's own retries immediate, so a thrice-scripted error costs no backoff.
FAST_RETRY = {"retry-after-ms": "10"}

ProviderFactory = Callable[..., AnthropicProvider]


@pytest.fixture
async def make_provider(fake_upstream: FakeUpstream) -> AsyncIterator[ProviderFactory]:
    made: list[AnthropicProvider] = []

    def make(endpoint: str | None = None, **config: Any) -> AnthropicProvider:
        settings = ProviderSettings(
            provider_id="claude",
            module="anthropic",
            api_key=API_KEY,
            endpoint=endpoint or fake_upstream.url,
            config=config,
        )
        made.append(AnthropicProvider(settings))
        return made[-1]

    yield make
    for provider in made:
        await provider.aclose()


def request(*messages: Message, **kwargs: Any) -> ModelRequest:
    return ModelRequest(model=MODEL, messages=messages or (UserMessage("hi"),), **kwargs)


async def collect(
    provider: AnthropicProvider, req: ModelRequest | None = None
) -> list[StreamEvent]:
    return [event async for event in provider.stream(req or request())]


async def failure(provider: AnthropicProvider, req: ModelRequest | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await collect(provider, req)
    return info.value


def error_reply(status: int, message: str = "nope", **headers: str) -> Reply:
    return reply_text("", error={"status": status, "message": message, "headers": headers})


def done(events: list[StreamEvent]) -> CallDone:
    assert isinstance(events[-1], CallDone)
    assert not any(isinstance(e, CallDone) for e in events[:-1])
    return events[-1]


def last_body(fake: FakeUpstream) -> dict[str, Any]:
    body = fake.model_requests()[-1].body
    assert isinstance(body, dict)
    return body


# -- streaming ----------------------------------------------------------------------------------


async def test_text_streams_as_deltas_then_one_call_done(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(Reply(blocks=[Block(type="text", chunks=["Hel", "lo", "!"])]))
    events = await collect(make_provider())
    assert events[:-1] == [TextDelta("Hel"), TextDelta("lo"), TextDelta("!")]
    final = done(events)
    assert (final.model, final.provider, final.stop_reason) == (MODEL, "claude", "end_turn")
    assert final.duration_ms >= 0


async def test_model_is_the_one_the_api_reported(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(reply_text("ok", model="claude-sonnet-4-6-20990101"))
    assert done(await collect(make_provider())).model == "claude-sonnet-4-6-20990101"


async def test_thinking_streams_and_finishes_with_its_signature(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(
        Reply(
            blocks=[
                Block(type="thinking", chunks=["Let me ", "think."], signature="sig-abc"),
                Block(type="text", text="Answer."),
            ]
        )
    )
    events = await collect(make_provider())
    assert events[:-1] == [
        ThinkingDelta("Let me "),
        ThinkingDelta("think."),
        ThinkingDone(ThinkingBlock("Let me think.", "sig-abc")),
        TextDelta("Answer."),
    ]


async def test_tool_call_input_is_assembled_from_streamed_json(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    arguments = {"path": "src/main.py", "range": [1, 40], "nested": {"deep": True}}
    fake_upstream.enqueue(reply_tool_calls(("toolu_01", "read_file", arguments), text="Reading."))
    events = await collect(make_provider())
    assert events[:-1] == [
        TextDelta("Reading."),
        ToolCallDone(ToolCall("toolu_01", "read_file", arguments)),
    ]
    assert done(events).stop_reason == "tool_use"


async def test_parallel_tool_calls_arrive_in_order(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(
        reply_tool_calls(("toolu_a", "ls", {"dir": "."}), ("toolu_b", "cat", {"file": "x"}))
    )
    events = await collect(make_provider())
    calls = [e.call for e in events if isinstance(e, ToolCallDone)]
    assert calls == [
        ToolCall("toolu_a", "ls", {"dir": "."}),
        ToolCall("toolu_b", "cat", {"file": "x"}),
    ]


async def test_malformed_tool_input_is_kept_raw(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(
        Reply(blocks=[Block(type="tool_call", id="t", name="f", arguments="{oops")])
    )
    events = await collect(make_provider())
    assert events[0] == ToolCallDone(ToolCall("t", "f", {}, raw_arguments="{oops"))


# -- usage and cost -----------------------------------------------------------------------------


async def test_usage_buckets_and_genai_prices_cost(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    usage = {"input": 1000, "output": 500, "cache_read": 2000, "cache_write": 400}
    fake_upstream.enqueue(reply_text("ok", usage=usage))
    final = done(await collect(make_provider()))
    assert final.usage.input_tokens == 1000
    assert final.usage.output_tokens == 500  # message_delta's count, not message_start's
    assert final.usage.cache_read_tokens == 2000
    assert final.usage.cache_write_tokens == 400
    # claude-sonnet-4-6 per million tokens: $3 in, $15 out, $0.30 cache read, $3.75 cache write.
    expected = (
        1000 * Decimal(3) + 500 * Decimal(15) + 2000 * Decimal("0.30") + 400 * Decimal("3.75")
    ) / Decimal(1_000_000)
    assert final.usage.cost_usd == expected == Decimal("0.0126")


async def test_config_pricing_overrides_genai_prices(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    usage = {"input": 100, "output": 10, "cache_read": 50, "cache_write": 0}
    fake_upstream.enqueue(reply_text("ok", usage=usage))
    provider = make_provider(pricing={"input": 2, "output": 8, "cache_read": "0.5"})
    final = done(await collect(provider))
    assert final.usage.cost_usd == (100 * 2 + 10 * 8 + 50 * Decimal("0.5")) / Decimal(1_000_000)


async def test_unknown_model_has_unknown_cost(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(reply_text("ok", model="totally-unknown-model-xyz"))
    assert done(await collect(make_provider())).usage.cost_usd is None


# -- what is sent -------------------------------------------------------------------------------


async def test_request_path_headers_and_body(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(reply_text("ok"))
    tool = ToolSpec("read", "Read a file", {"type": "object", "properties": {"p": {}}})
    history = (
        UserMessage("look"),
        AssistantMessage(
            tool_calls=(ToolCall("t1", "read", {"p": "a"}), ToolCall("t2", "read", {}))
        ),
        ToolMessage("t1", "read", "contents of a"),
        ToolMessage("t2", "read", "no such file", is_error=True),
    )
    req = request(
        *history, system="Be brief.", tools=(tool,), tool_choice="required", stop=("END",)
    )
    await collect(make_provider(thinking_budget_tokens=2048, max_tokens=4096), req)

    recorded = fake_upstream.model_requests()[-1]
    assert recorded.path == "/v1/messages"
    auth = recorded.headers.get("x-api-key") or recorded.headers.get("authorization", "")
    assert auth.removeprefix("Bearer ") == API_KEY
    assert recorded.headers.get("anthropic-version")
    body = last_body(fake_upstream)
    assert body["model"] == MODEL and body["stream"] is True
    assert body["system"] == "Be brief."
    assert body["max_tokens"] == 4096
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["tools"] == [
        {"name": "read", "description": "Read a file", "input_schema": tool.parameters}
    ]
    assert body["tool_choice"] == {"type": "any"}
    assert body["stop_sequences"] == ["END"]
    assert body["messages"] == [
        {"role": "user", "content": "look"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "read", "input": {"p": "a"}},
                {"type": "tool_use", "id": "t2", "name": "read", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "contents of a"},
                {
                    "type": "tool_result",
                    "tool_use_id": "t2",
                    "content": "no such file",
                    "is_error": True,
                },
            ],
        },
    ]


async def test_max_tokens_precedence(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(reply_text("a"), reply_text("b"), reply_text("c"))
    await collect(make_provider())
    assert last_body(fake_upstream)["max_tokens"] == 8192
    await collect(make_provider(max_tokens=1000))
    assert last_body(fake_upstream)["max_tokens"] == 1000
    await collect(make_provider(max_tokens=1000), request(max_tokens=77))
    assert last_body(fake_upstream)["max_tokens"] == 77


async def test_thinking_budget_stays_below_max_tokens(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(reply_text("a"))
    await collect(make_provider(thinking_budget_tokens=4000, max_tokens=1024))
    body = last_body(fake_upstream)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4000}
    assert body["max_tokens"] > 4000


async def test_sampling_parameters_are_not_sent(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    # The Messages API version the SDK speaks answers 400 to any sampling parameter.
    fake_upstream.enqueue(reply_text("a"))
    tool_choice = {"type": "function", "function": {"name": "read"}}
    req = request(top_p=0.9, temperature=0.3, tools=(ToolSpec("read"),), tool_choice=tool_choice)
    await collect(make_provider(temperature=0.2), req)
    body = last_body(fake_upstream)
    assert "temperature" not in body and "top_p" not in body
    assert body["tool_choice"] == {"type": "tool", "name": "read"}
    assert "thinking" not in body


async def test_tool_choice_is_only_sent_with_tools(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(reply_text("a"), reply_text("b"))
    await collect(make_provider(), request(tool_choice="none"))
    assert "tool_choice" not in last_body(fake_upstream)
    await collect(make_provider(), request(tools=(ToolSpec("x"),), tool_choice="none"))
    assert last_body(fake_upstream)["tool_choice"] == {"type": "none"}


async def test_signed_thinking_is_replayed_on_the_next_turn(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(
        Reply(
            blocks=[
                Block(type="thinking", text="I should call ls.", signature="sig-1"),
                Block(type="tool_call", id="toolu_1", name="ls", arguments={}),
            ]
        ),
        reply_text("done"),
    )
    provider = make_provider(thinking_budget_tokens=1024)
    first = await collect(provider)
    thinking = next(e.block for e in first if isinstance(e, ThinkingDone))
    call = next(e.call for e in first if isinstance(e, ToolCallDone))
    unsigned = ThinkingBlock("never signed")
    second = request(
        UserMessage("hi"),
        AssistantMessage(thinking=(thinking, unsigned), tool_calls=(call,)),
        ToolMessage("toolu_1", "ls", "a b c"),
    )
    await collect(provider, second)
    assistant = last_body(fake_upstream)["messages"][1]
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "I should call ls.", "signature": "sig-1"},
            {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {}},
        ],
    }


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_rejected_credentials_are_auth_errors(
    status: int, fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(error_reply(status, "invalid x-api-key"))
    error = await failure(make_provider())
    assert (error.upstream, error.status) == ("upstream_auth_error", status)
    assert str(status) in error.detail and "invalid x-api-key" in error.detail
    assert API_KEY not in str(error)
    assert len(fake_upstream.model_requests()) == 1  # not retried


async def test_rate_limit_after_sdk_retries_carries_retry_after(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(*[error_reply(429, "slow down", **{"retry-after": "0.05"})] * 3)
    error = await failure(make_provider())
    assert (error.upstream, error.status, error.retry_after) == ("rate_limited", 429, 0.05)
    assert "slow down" in error.detail
    assert len(fake_upstream.model_requests()) == 3  # the SDK's two retries, nothing more


@pytest.mark.parametrize("status", [500, 529])
async def test_server_errors_are_upstream_errors(
    status: int, fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(*[error_reply(status, "Overloaded", **FAST_RETRY)] * 3)
    error = await failure(make_provider())
    assert (error.upstream, error.status) == ("upstream_error", status)
    assert "Overloaded" in error.detail and str(status) in error.detail


async def test_server_error_recovered_by_sdk_retry(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(error_reply(529, **FAST_RETRY), reply_text("fine"))
    events = await collect(make_provider())
    assert events[0] == TextDelta("fine")


async def test_other_client_errors_are_upstream_errors(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(error_reply(400, "max_tokens: too large"))
    error = await failure(make_provider())
    assert (error.upstream, error.status) == ("upstream_error", 400)
    assert "max_tokens: too large" in error.detail


async def test_connection_refused_is_unavailable(make_provider: ProviderFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    error = await failure(make_provider(endpoint=f"http://127.0.0.1:{closed_port}"))
    assert error.upstream == "upstream_unavailable"


async def test_stream_cut_midway_is_an_upstream_error(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(
        Reply(blocks=[Block(type="text", chunks=list("abcdef"))], die_after_events=5)
    )
    seen: list[StreamEvent] = []
    with pytest.raises(ProviderError) as info:
        async for event in make_provider().stream(request()):
            seen.append(event)
    assert info.value.upstream == "upstream_error"
    assert seen and not any(isinstance(e, CallDone) for e in seen)
    assert len(fake_upstream.model_requests()) == 1  # nothing retried after the first event


async def test_stalled_stream_times_out(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(
        Reply(blocks=[Block(type="text", chunks=["a", "b"])], stall_after_events=3, stall_s=2.5)
    )
    started = time.monotonic()
    error = await failure(make_provider(stall_timeout_s=1))
    assert error.upstream == "upstream_timeout"
    assert time.monotonic() - started < 2.4


def _mock_provider(body: bytes) -> AnthropicProvider:
    """The real SDK over an in-memory transport, for streams the fake server cannot script."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    settings = ProviderSettings(
        provider_id="claude", module="anthropic", api_key=API_KEY, endpoint="http://mock"
    )
    return AnthropicProvider(settings, http_client=client)


_START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message",'
    b'"role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
)


async def test_error_event_inside_a_stream_is_an_upstream_error() -> None:
    error_event = (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )
    provider = _mock_provider(_START + error_event)
    try:
        error = await failure(provider)
    finally:
        await provider.aclose()
    assert error.upstream == "upstream_error"
    assert "overloaded_error" in error.detail


async def test_stream_without_message_stop_is_an_upstream_error() -> None:
    provider = _mock_provider(_START)
    try:
        error = await failure(provider)
    finally:
        await provider.aclose()
    assert error.upstream == "upstream_error"


def test_missing_api_key_is_not_configured() -> None:
    with pytest.raises(ProviderNotConfigured) as info:
        AnthropicProvider(ProviderSettings(provider_id="anthropic", module="anthropic"))
    assert info.value.env_var == "ANTHROPIC_API_KEY"


# -- listing and lifecycle ----------------------------------------------------------------------


async def test_list_models(fake_upstream: FakeUpstream, make_provider: ProviderFactory) -> None:
    fake_upstream.set_models(
        [
            {"id": "claude-new", "created": 1760486400, "display_name": "Claude New"},
            {"id": "claude-old", "created": 1700000000},
        ]
    )
    models = await make_provider().list_models()
    assert [(m.id, m.display_name, m.created) for m in models] == [
        ("claude-new", "Claude New", 1760486400),
        ("claude-old", "claude-old", 1700000000),
    ]
    assert all(m.context_window is None and m.capabilities == () for m in models)
    listing = [r for r in fake_upstream.requests if r.method == "GET"][-1]
    assert listing.path == "/v1/models"


async def test_list_models_maps_errors(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with pytest.raises(ProviderError) as info:
        await make_provider(endpoint=f"http://127.0.0.1:{closed_port}").list_models()
    assert info.value.upstream == "upstream_unavailable"


async def _outcome_within(fake: FakeUpstream, outcome: str, seconds: float) -> RecordedRequest:
    deadline = time.monotonic() + seconds
    while True:
        recorded = fake.model_requests()[-1]
        if recorded.outcome == outcome or time.monotonic() > deadline:
            return recorded
        await asyncio.sleep(0.02)


def _slow_reply() -> Reply:
    return Reply(blocks=[Block(type="text", chunks=[f"t{i} " for i in range(100)])], delay_s=0.05)


async def test_breaking_out_early_closes_the_connection(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(_slow_reply())
    stream = make_provider().stream(request())
    async for event in stream:
        assert event == TextDelta("t0 ")
        break
    await stream.aclose()  # type: ignore[attr-defined]
    recorded = await _outcome_within(fake_upstream, "client_closed", 1.0)
    assert recorded.outcome == "client_closed"


async def test_cancelling_the_consumer_closes_the_connection(
    fake_upstream: FakeUpstream, make_provider: ProviderFactory
) -> None:
    fake_upstream.enqueue(_slow_reply())
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in make_provider().stream(request()):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    recorded = await _outcome_within(fake_upstream, "client_closed", 1.0)
    assert recorded.outcome == "client_closed"


async def test_a_static_model_list_replaces_live_listing(fake_upstream: FakeUpstream) -> None:
    provider = AnthropicProvider(
        ProviderSettings(
            "anthropic",
            "anthropic",
            api_key="sk-ant-test",
            endpoint=fake_upstream.url,
            config={"models": ["claude-x", "claude-y"]},
        )
    )
    try:
        models = await provider.list_models()
    finally:
        await provider.aclose()
    assert [m.id for m in models] == ["claude-x", "claude-y"]
    assert fake_upstream.requests == []
