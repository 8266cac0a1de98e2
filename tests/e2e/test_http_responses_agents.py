"""The OpenAI Agents SDK (`openai-agents`) as a real client of the Responses face: an agent with
one Python function tool, its model our server's `OpenAIResponsesModel`, the fake Anthropic
upstream behind our engine asking for that tool."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool

from testkit import FakeUpstream, reply_text, reply_tool_calls
from tests.e2e.server_harness import RunningServer, running_server, server_env, write_config

MODEL = "claude-sonnet-4-5-20250929"


@pytest.fixture
def server(tmp_path: Path, fake_upstream: FakeUpstream) -> Iterator[RunningServer]:
    config = write_config(tmp_path / "host_config.json", {"providers": {"anthropic": {}}})
    env = server_env(
        tmp_path, {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": fake_upstream.url}
    )
    with running_server(config, env, cwd=tmp_path) as running:
        yield running


async def test_agent_run_calls_its_function_tool_through_our_engine(
    server: RunningServer, fake_upstream: FakeUpstream
) -> None:
    asked: list[str] = []

    @function_tool
    def city_weather(city: str) -> str:
        """The current weather in a city."""
        asked.append(city)
        return f"Sunny and 21 C in {city}"

    fake_upstream.enqueue(
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
    continuation = fake_upstream.model_requests()[-1].body
    assert "Sunny and 21 C in Paris" in json.dumps(continuation["messages"])
    assert "Answer weather questions" in json.dumps(continuation["messages"])
