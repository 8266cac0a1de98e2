"""The HTTP face driven by the official `openai` Python SDK: our server on loopback, the engine
behind it, the fake Anthropic upstream behind that."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import genai_prices
import openai
import pytest
from openai.types.chat import ChatCompletion

from testkit import Block, FakeUpstream, Reply, reply_text, reply_tool_calls
from tests.e2e.server_harness import RunningServer, running_server, server_env, write_config

MODEL = "claude-sonnet-4-5-20250929"
BROWSER_TOOL = {
    "type": "function",
    "function": {
        "name": "open_browser",
        "description": "Open a URL in the user's browser",
        "parameters": {"type": "object", "properties": {"url": {"type": "string"}}},
    },
}


@pytest.fixture
def server(tmp_path: Path, fake_upstream: FakeUpstream) -> Iterator[RunningServer]:
    config = write_config(tmp_path / "host_config.json", {"providers": {"anthropic": {}}})
    env = server_env(
        tmp_path, {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": fake_upstream.url}
    )
    with running_server(config, env, cwd=tmp_path) as running:
        yield running


@pytest.fixture
def client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)


def expected_cost(input_tokens: int, output_tokens: int) -> Decimal:
    price = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=input_tokens, output_tokens=output_tokens),
        MODEL,
        provider_id="anthropic",
    )
    return Decimal(price.total_price)


def test_models_list_tags_every_model_with_its_provider(client: openai.OpenAI) -> None:
    models = client.models.list().data
    assert {m.id for m in models} >= {MODEL, "claude-haiku-4-5-20251001"}
    for model in models:
        assert model.model_extra is not None and model.model_extra["_provider"] == "anthropic"
        assert model.owned_by == "amplifier-agent"


def test_stream_helper_receives_text_and_costed_usage(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.enqueue(
        Reply(
            blocks=[Block(type="text", text="Hello there", chunks=["Hel", "lo ", "there"])],
            usage={"input": 1200, "output": 80},
        )
    )
    with client.chat.completions.stream(
        model=MODEL, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        texts = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(texts) == "Hello there"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (1200, 80)
    assert final.usage.prompt_tokens_details is not None
    assert final.usage.prompt_tokens_details.cached_tokens == 0
    cost = final.usage.model_extra["cost_usd"]  # type: ignore[index]
    assert isinstance(cost, str) and Decimal(cost) == expected_cost(1200, 80)


def test_plain_create_stream_true_and_stream_false(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.enqueue(reply_text("streamed"), reply_text("buffered"))
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "a"}], stream=True
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed"
    assert chunks[-1].usage is not None and len({c.id for c in chunks}) == 1
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "b"}], stream=False
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "buffered"
    assert completion.usage is not None and completion.usage.total_tokens == 15
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 0


def _one_browser_call() -> Reply:
    return reply_tool_calls(("toolu_01A", "open_browser", {"url": "https://a.example"}))


@pytest.mark.parametrize("calls", [0, 1, 2], ids=["text", "one-call", "two-calls"])
def test_default_create_without_stream_returns_a_chat_completion(
    client: openai.OpenAI, fake_upstream: FakeUpstream, calls: int
) -> None:
    replies = {
        0: reply_text("plain answer", usage={"input": 20, "output": 4, "cache_read": 300}),
        1: _one_browser_call(),
        2: _two_browser_calls(),
    }
    fake_upstream.enqueue(replies[calls])
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[{"role": "user", "content": "go"}],
        tools=[BROWSER_TOOL],  # type: ignore[list-item]
    )
    # What makes this the negotiated case: the SDK sends no `stream` and asks for JSON.
    assert "stream" not in json.loads(raw.http_request.content)
    assert raw.http_request.headers["accept"] == "application/json"
    assert raw.headers["content-type"] == "application/json"
    completion = raw.parse()
    assert isinstance(completion, ChatCompletion)
    choice = completion.choices[0]
    tool_calls = choice.message.tool_calls or []
    assert [c.function.name for c in tool_calls] == ["open_browser"] * calls
    assert [c.id for c in tool_calls] == ["toolu_01A", "toolu_01B"][:calls]
    assert choice.finish_reason == ("tool_calls" if calls else "stop")
    if calls == 0:
        assert choice.message.content == "plain answer"
        assert completion.usage is not None and completion.usage.prompt_tokens == 320
        assert completion.usage.prompt_tokens_details is not None
        assert completion.usage.prompt_tokens_details.cached_tokens == 300


def _two_browser_calls() -> Reply:
    return reply_tool_calls(
        ("toolu_01A", "open_browser", {"url": "https://a.example"}),
        ("toolu_01B", "open_browser", {"url": "https://b.example"}),
        text="Opening both.",
    )


@pytest.mark.parametrize("stream", [True, False])
def test_parallel_host_tool_calls_then_continuation(
    client: openai.OpenAI, fake_upstream: FakeUpstream, stream: bool
) -> None:
    fake_upstream.enqueue(_two_browser_calls(), reply_text("Both pages are open."))
    messages: list[dict[str, object]] = [{"role": "user", "content": "open a and b"}]
    if stream:
        with client.chat.completions.stream(
            model=MODEL,
            messages=messages,
            tools=[BROWSER_TOOL],  # type: ignore[arg-type,list-item]
        ) as s:
            first = s.get_final_completion()
    else:
        first = client.chat.completions.create(
            model=MODEL,
            messages=messages,
            tools=[BROWSER_TOOL],
            stream=False,  # type: ignore[arg-type,list-item]
        )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls] == ["open_browser", "open_browser"]
    assert len({c.id for c in calls}) == 2
    assert [c.function.arguments for c in calls] == [
        '{"url":"https://a.example"}',
        '{"url":"https://b.example"}',
    ]
    messages.append(choice.message.model_dump(exclude_none=True))
    for call in calls:
        messages.append({"role": "tool", "tool_call_id": call.id, "content": "opened"})
    final = client.chat.completions.create(
        model=MODEL,
        messages=messages,
        tools=[BROWSER_TOOL],
        stream=False,  # type: ignore[arg-type,list-item]
    )
    assert final.choices[0].message.content == "Both pages are open."
    continuation = fake_upstream.model_requests()[-1].body
    results = [
        block
        for message in continuation["messages"]
        for block in (message["content"] if isinstance(message["content"], list) else [])
        if block.get("type") == "tool_result"
    ]
    assert [r["tool_use_id"] for r in results] == ["toolu_01A", "toolu_01B"]


def test_streamed_tool_call_chunks_carry_index_and_whole_arguments(
    client: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.enqueue(_two_browser_calls())
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "go"}],
            tools=[BROWSER_TOOL],  # type: ignore[list-item]
            stream=True,
        )
    )
    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert [d.index for d in deltas] == [0, 1]
    assert all(d.function and d.function.arguments.startswith("{") for d in deltas)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
