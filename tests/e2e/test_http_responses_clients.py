"""The Responses face driven by real clients: the official `openai` Python SDK
(`client.responses`) and the OpenAI Agents SDK (`openai-agents`), against our server on loopback,
the engine behind it, the fake Anthropic upstream behind that. One server for the module."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import genai_prices
import openai
import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool

from testkit import Block, FakeUpstream, Reply, reply_text, reply_tool_calls
from tests.e2e.server_harness import RunningServer, running_server, write_config
from tests.e2e.test_http_rejections import scrubbed_env

MODEL = "claude-sonnet-4-5-20250929"
BROWSER_TOOL: Any = {
    "type": "function",
    "name": "open_browser",
    "description": "Open a URL in the user's browser",
    "parameters": {"type": "object", "properties": {"url": {"type": "string"}}},
}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("responses-clients")
    config = write_config(root / "host_config.json", {"providers": {"anthropic": {}}})
    env = scrubbed_env(
        root, {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": upstream.url}
    )
    with running_server(config, env, cwd=root) as running:
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


def _two_browser_calls() -> Reply:
    return reply_tool_calls(
        ("toolu_01A", "open_browser", {"url": "https://a.example"}),
        ("toolu_01B", "open_browser", {"url": "https://b.example"}),
        text="Opening both.",
    )


def test_create_text_has_output_text_and_costed_usage(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    fake.enqueue(reply_text("plain answer", usage={"input": 1200, "output": 80}))
    response = client.responses.create(model=MODEL, input="hi", instructions="Be brief.")
    assert response.object == "response" and response.status == "completed"
    assert response.output_text == "plain answer"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1200, 80)
    assert response.usage.input_tokens_details.cached_tokens == 0
    cost = response.usage.model_extra["cost_usd"]  # type: ignore[index]
    assert Decimal(cost) == expected_cost(1200, 80)
    sent = fake.model_requests()[-1].body
    assert "Be brief." in json.dumps(sent["messages"])  # contained, as a chat system prompt is


def test_stream_helper_events_in_order_without_warnings(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    fake.enqueue(
        Reply(
            blocks=[
                Block(type="thinking", text="Let me think", chunks=["Let me ", "think"]),
                Block(type="text", text="Hello there", chunks=["Hel", "lo ", "there"]),
            ],
            usage={"input": 30, "output": 9},
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with client.responses.stream(model=MODEL, input="hi") as stream:
            events = list(stream)
            final = stream.get_final_response()
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "Hello there"
    assert [item.type for item in final.output] == ["reasoning", "message"]
    reasoning = final.output[0]
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Let me think"
    assert final.output_text == "Hello there"
    assert final.usage is not None and final.usage.output_tokens == 9


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_parallel_function_calls_round_trip(
    client: openai.OpenAI, fake: FakeUpstream, stream: bool
) -> None:
    fake.enqueue(_two_browser_calls(), reply_text("Both pages are open."))
    if stream:
        with client.responses.stream(model=MODEL, input="open a and b", tools=[BROWSER_TOOL]) as s:
            first = s.get_final_response()
        # `store` defaults to true: a streamed response is stored before its stream ends.
        stored = client.responses.retrieve(first.id)
        assert [i.id for i in stored.output] == [i.id for i in first.output]
    else:
        first = client.responses.create(
            model=MODEL, input="open a and b", tools=[BROWSER_TOOL], store=False
        )
    calls = [item for item in first.output if item.type == "function_call"]
    assert [c.name for c in calls] == ["open_browser", "open_browser"]
    assert [c.call_id for c in calls] == ["toolu_01A", "toolu_01B"]
    assert [json.loads(c.arguments)["url"] for c in calls] == [
        "https://a.example",
        "https://b.example",
    ]
    assert first.output_text == "Opening both."
    follow_up: list[Any] = [{"role": "user", "content": "open a and b"}]
    follow_up += [item.model_dump(exclude_none=True) for item in first.output]
    follow_up += [
        {"type": "function_call_output", "call_id": c.call_id, "output": "opened"} for c in calls
    ]
    final = client.responses.create(model=MODEL, input=follow_up, tools=[BROWSER_TOOL], store=False)
    assert final.output_text == "Both pages are open."
    continuation = fake.model_requests()[-1].body
    results = [
        block
        for message in continuation["messages"]
        for block in (message["content"] if isinstance(message["content"], list) else [])
        if block.get("type") == "tool_result"
    ]
    assert [r["tool_use_id"] for r in results] == ["toolu_01A", "toolu_01B"]


def test_previous_response_id_continues_a_stored_response_and_retrieve_returns_it(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    fake.enqueue(reply_text("The capital is Paris."), reply_text("About 2.1 million."))
    first = client.responses.create(model=MODEL, input="Capital of France?", store=True)
    second = client.responses.create(
        model=MODEL, input="Its population?", previous_response_id=first.id, store=True
    )
    assert second.output_text == "About 2.1 million."
    assert second.previous_response_id == first.id
    sent = json.dumps(fake.model_requests()[-1].body["messages"])
    assert "Capital of France?" in sent and "The capital is Paris." in sent
    retrieved = client.responses.retrieve(second.id)
    assert retrieved.id == second.id and retrieved.output_text == "About 2.1 million."
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve("resp_" + "0" * 32)
    assert caught.value.status_code == 404
    assert caught.value.body["code"] == "response_not_found"  # type: ignore[index]


def test_unknown_previous_response_and_bad_items_are_openai_shaped_400s(
    client: openai.OpenAI,
) -> None:
    cases: list[dict[str, Any]] = [
        {"input": "x", "previous_response_id": "resp_nope"},
        {"input": [{"type": "item_reference", "id": "x"}]},
        {"input": [{"type": "function_call_output", "output": "x"}]},
        {"input": 5},
    ]
    params = ["previous_response_id", "input[0].type", "input[0].call_id", "input"]
    for body, param in zip(cases, params, strict=True):
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(model=MODEL, **body)
        assert caught.value.body["param"] == param  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as unknown:
        client.responses.create(model="no-such-model", input="x")
    assert unknown.value.body["code"] == "unknown_model"  # type: ignore[index]


async def test_agent_run_calls_its_function_tool_through_our_engine(
    server: RunningServer, fake: FakeUpstream
) -> None:
    asked: list[str] = []

    @function_tool
    def city_weather(city: str) -> str:
        """The current weather in a city."""
        asked.append(city)
        return f"Sunny and 21 C in {city}"

    fake.enqueue(
        reply_tool_calls(("toolu_weather_1", "city_weather", {"city": "Paris"})),
        reply_text("It is sunny and 21 C in Paris."),
    )
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
    agent = Agent(
        name="forecaster",
        instructions="Answer weather questions with the tool.",
        tools=[city_weather],
        model=OpenAIResponsesModel(model=MODEL, openai_client=client),
    )
    result = await Runner.run(
        agent, "What's the weather in Paris?", run_config=RunConfig(tracing_disabled=True)
    )
    assert asked == ["Paris"]
    assert result.final_output == "It is sunny and 21 C in Paris."
    continuation = fake.model_requests()[-1].body
    assert "Sunny and 21 C in Paris" in json.dumps(continuation["messages"])
    assert "Answer weather questions" in json.dumps(continuation["messages"])
