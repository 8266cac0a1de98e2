"""The Chat Completions adapter streaming through the real openai SDK against the fake upstream."""

from __future__ import annotations

from decimal import Decimal

import genai_prices
import pytest

from amplifier_agent.core.messages import ThinkingBlock, ToolCall
from amplifier_agent.core.stream import (
    CallDone,
    TextDelta,
    ThinkingDelta,
    ThinkingDone,
    ToolCallDone,
)
from amplifier_agent.providers.chat_completions import ChatCompletionsProvider
from testkit import Block, FakeUpstream, Reply, reply_text, reply_tool_calls
from tests.providers.chat_completions_support import (
    MODULES,
    chunk,
    collect,
    model_for,
    run_call,
    settings_for,
    simple_request,
    sse_client,
)

MILLION = Decimal(1_000_000)


def call_done(events: list[object]) -> CallDone:
    assert events, "no events"
    done = events[-1]
    assert isinstance(done, CallDone)
    assert sum(isinstance(e, CallDone) for e in events) == 1
    return done


@pytest.mark.parametrize("module", MODULES)
async def test_text_streams_as_deltas_then_one_call_done(
    fake_upstream: FakeUpstream, module: str
) -> None:
    fake_upstream.enqueue(Reply(blocks=[Block(type="text", chunks=["Hel", "lo", " world"])]))

    events, error = await run_call(fake_upstream, module)

    assert error is None
    assert events[:-1] == [TextDelta("Hel"), TextDelta("lo"), TextDelta(" world")]
    done = call_done(events)
    assert done.stop_reason == "end_turn"
    assert done.provider == f"my-{module}"
    assert done.model == model_for(module)
    assert done.duration_ms >= 0


@pytest.mark.parametrize("module", MODULES)
async def test_reasoning_content_becomes_thinking_closed_before_the_text(
    fake_upstream: FakeUpstream, module: str
) -> None:
    fake_upstream.enqueue(
        Reply(
            blocks=[
                Block(type="thinking", chunks=["Let me ", "think."]),
                Block(type="text", text="Answer."),
            ]
        )
    )

    events, error = await run_call(fake_upstream, module)

    assert error is None
    assert events[:-1] == [
        ThinkingDelta("Let me "),
        ThinkingDelta("think."),
        ThinkingDone(ThinkingBlock(text="Let me think.", signature="")),
        TextDelta("Answer."),
    ]


async def test_reasoning_alone_is_closed_when_the_stream_finishes(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.enqueue(Reply(blocks=[Block(type="thinking", text="only thoughts")]))

    events, _ = await run_call(fake_upstream, "ollama")

    assert events[:-1] == [
        ThinkingDelta("only thoughts"),
        ThinkingDone(ThinkingBlock(text="only thoughts")),
    ]


@pytest.mark.parametrize("module", MODULES)
async def test_one_tool_call_is_assembled_from_partial_arguments(
    fake_upstream: FakeUpstream, module: str
) -> None:
    arguments = {"path": "src/main.py", "lines": [1, 20], "follow": True}
    fake_upstream.enqueue(reply_tool_calls(("call_1", "read_file", arguments), text="Reading."))

    events, error = await run_call(fake_upstream, module)

    assert error is None
    assert events[:-1] == [
        TextDelta("Reading."),
        ToolCallDone(ToolCall(id="call_1", name="read_file", arguments=arguments)),
    ]
    assert call_done(events).stop_reason == "tool_use"


@pytest.mark.parametrize("module", MODULES)
async def test_parallel_tool_calls_keep_their_ids_in_index_order(
    fake_upstream: FakeUpstream, module: str
) -> None:
    fake_upstream.enqueue(
        reply_tool_calls(
            ("call_a", "weather", {"city": "Paris"}),
            ("call_b", "weather", {"city": "Tokyo"}),
        )
    )

    events, _ = await run_call(fake_upstream, module)

    calls = [e.call for e in events if isinstance(e, ToolCallDone)]
    assert calls == [
        ToolCall(id="call_a", name="weather", arguments={"city": "Paris"}),
        ToolCall(id="call_b", name="weather", arguments={"city": "Tokyo"}),
    ]


async def test_arguments_that_are_not_json_are_kept_raw(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(
        Reply(blocks=[Block(type="tool_call", id="c1", name="run", arguments='{"cmd": "ls"')])
    )

    events, _ = await run_call(fake_upstream, "chat-completions")

    assert events[0] == ToolCallDone(
        ToolCall(id="c1", name="run", arguments={}, raw_arguments='{"cmd": "ls"')
    )


async def test_empty_arguments_are_an_empty_object(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(
        Reply(blocks=[Block(type="tool_call", id="c1", name="now", arguments="")])
    )

    events, _ = await run_call(fake_upstream, "openai")

    assert events[0] == ToolCallDone(ToolCall(id="c1", name="now", arguments={}))


async def test_length_finish_reason_is_max_tokens(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(reply_text("cut sh", stop_reason="max_tokens"))

    events, _ = await run_call(fake_upstream, "openai")

    assert call_done(events).stop_reason == "max_tokens"


# -- usage and cost ----------------------------------------------------------------------------


USAGE = {"input": 1200, "output": 300, "cache_read": 800, "cache_write": 0}


async def test_openai_usage_splits_cached_tokens_and_prices_them_from_genai_prices(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.enqueue(reply_text("ok", usage=USAGE))

    events, _ = await run_call(fake_upstream, "openai")

    usage = call_done(events).usage
    assert (usage.input_tokens, usage.output_tokens) == (1200, 300)
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (800, 0)
    rates = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1, output_tokens=1), "gpt-5", provider_id="openai"
    ).model_price
    expected = (
        1200 * rates.input_mtok + 300 * rates.output_mtok + 800 * rates.cache_read_mtok
    ) / MILLION
    assert isinstance(usage.cost_usd, Decimal)
    assert usage.cost_usd == expected
    assert usage.cost_usd > 0


async def test_chat_completions_prices_with_the_config_override(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.enqueue(reply_text("ok", usage=USAGE))
    pricing = {"input": "2", "output": "8", "cache_read": "0.5"}

    events, _ = await run_call(fake_upstream, "chat-completions", config={"pricing": pricing})

    expected = (1200 * Decimal(2) + 300 * Decimal(8) + 800 * Decimal("0.5")) / MILLION
    assert call_done(events).usage.cost_usd == expected


async def test_ollama_cost_is_unknown_not_zero(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(reply_text("ok", usage=USAGE))

    events, _ = await run_call(fake_upstream, "ollama")

    usage = call_done(events).usage
    assert usage.cost_usd is None
    assert (usage.input_tokens, usage.cache_read_tokens) == (1200, 800)


async def test_calls_without_an_index_are_told_apart_by_id() -> None:
    whole = '{"tool_calls":[{"id":"%s","type":"function","function":{"name":"f","arguments":%s}}]}'
    body = (
        chunk(whole % ("a", '"{\\"n\\":1}"'))
        + chunk(whole % ("b", '"{\\"n\\":2}"'))
        + chunk("{}", finish="tool_calls")
        + b"data: [DONE]\n\n"
    )
    http = sse_client(body)
    provider = ChatCompletionsProvider(
        settings_for("chat-completions", "http://upstream.invalid"), http_client=http
    )

    events, error = await collect(provider, simple_request("chat-completions"))
    await http.aclose()

    assert error is None
    assert events[:-1] == [
        ToolCallDone(ToolCall(id="a", name="f", arguments={"n": 1})),
        ToolCallDone(ToolCall(id="b", name="f", arguments={"n": 2})),
    ]
    done = call_done(events)
    assert done.usage.cost_usd is None, "no usage reported means no known cost"
