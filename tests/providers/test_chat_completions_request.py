"""What the Chat Completions adapter sends: path, headers and body, per endpoint kind."""

from __future__ import annotations

from typing import Any

import pytest

from amplifier_agent.core.errors import ProviderNotConfigured
from amplifier_agent.core.messages import (
    AssistantMessage,
    ThinkingBlock,
    ToolCall,
    ToolMessage,
    ToolSpec,
    UserMessage,
)
from amplifier_agent.providers.base import ModelRequest
from amplifier_agent.providers.chat_completions import ChatCompletionsProvider
from testkit import FakeUpstream, RecordedRequest, reply_text
from tests.providers.chat_completions_support import (
    AZURE_API_VERSION,
    KEYS,
    MODULES,
    chat_path,
    model_for,
    run_call,
    settings_for,
    simple_request,
)

WEATHER = ToolSpec(
    name="weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


async def sent(
    fake: FakeUpstream, module: str, request: ModelRequest | None = None, **kw: Any
) -> RecordedRequest:
    fake.enqueue(reply_text("ok"))
    _, error = await run_call(fake, module, request, **kw)
    assert error is None
    (recorded,) = fake.model_requests()
    return recorded


@pytest.mark.parametrize("module", MODULES)
async def test_the_request_goes_to_the_module_path_streamed_with_usage(
    fake_upstream: FakeUpstream, module: str
) -> None:
    recorded = await sent(fake_upstream, module)

    assert recorded.path == chat_path(module)
    assert recorded.body["model"] == model_for(module)
    assert recorded.body["stream"] is True
    assert recorded.body["stream_options"] == {"include_usage": True}
    assert recorded.body["messages"] == [{"role": "user", "content": "hi"}]
    assert recorded.outcome == "complete"


@pytest.mark.parametrize("module", ["openai", "chat-completions"])
async def test_the_key_is_a_bearer_token(fake_upstream: FakeUpstream, module: str) -> None:
    recorded = await sent(fake_upstream, module)

    assert recorded.headers["authorization"] == f"Bearer {KEYS[module]}"


async def test_azure_sends_api_version_and_the_api_key_header(
    fake_upstream: FakeUpstream,
) -> None:
    recorded = await sent(fake_upstream, "azure-openai")

    assert recorded.query["api-version"] == AZURE_API_VERSION
    assert recorded.headers["api-key"] == KEYS["azure-openai"]
    assert "authorization" not in recorded.headers


async def test_azure_without_a_version_uses_the_catalog_default(
    fake_upstream: FakeUpstream,
) -> None:
    recorded = await sent(fake_upstream, "azure-openai", api_version=None)

    assert recorded.query["api-version"] == "2024-10-21"


async def test_ollama_needs_no_key_and_lives_under_v1_of_its_host(
    fake_upstream: FakeUpstream,
) -> None:
    host_without_scheme = fake_upstream.url.removeprefix("http://")
    recorded = await sent(fake_upstream, "ollama", endpoint=host_without_scheme, api_key=None)

    assert recorded.path == "/v1/chat/completions"
    assert recorded.headers["authorization"].startswith("Bearer ")


async def test_a_keyless_compatible_endpoint_still_gets_a_call(
    fake_upstream: FakeUpstream,
) -> None:
    recorded = await sent(fake_upstream, "chat-completions", api_key=None)

    assert recorded.path == "/v1/chat/completions"


@pytest.mark.parametrize(
    ("module", "field"),
    [
        ("openai", "max_completion_tokens"),
        ("azure-openai", "max_completion_tokens"),
        ("ollama", "max_tokens"),
        ("chat-completions", "max_tokens"),
    ],
)
async def test_max_tokens_uses_the_field_the_endpoint_knows(
    fake_upstream: FakeUpstream, module: str, field: str
) -> None:
    other = {"max_tokens", "max_completion_tokens"} - {field}
    recorded = await sent(fake_upstream, module, config={"max_tokens": 4096})
    assert recorded.body[field] == 4096
    assert not other & recorded.body.keys()

    fake_upstream.reset()
    recorded = await sent(
        fake_upstream, module, simple_request(module, max_tokens=77), config={"max_tokens": 4096}
    )
    assert recorded.body[field] == 77


async def test_a_tool_round_trip_is_sent_in_the_chat_completions_shape(
    fake_upstream: FakeUpstream,
) -> None:
    call = ToolCall(id="call_1", name="weather", arguments={"city": "Paris"})
    request = ModelRequest(
        model="gpt-5",
        system="You are terse.",
        messages=(
            UserMessage("Weather in Paris?"),
            AssistantMessage(thinking=(ThinkingBlock("hm"),), tool_calls=(call,)),
            ToolMessage(tool_call_id="call_1", name="weather", content="sunny"),
            AssistantMessage(content="Sunny."),
            UserMessage("Thanks"),
        ),
        tools=(WEATHER,),
        tool_choice="auto",
        temperature=0.2,
        top_p=0.9,
        stop=("END",),
    )

    body = (await sent(fake_upstream, "openai", request, config={"effort": "low"})).body

    assert body["messages"][0] == {"role": "system", "content": "You are terse."}
    assert body["messages"][1] == {"role": "user", "content": "Weather in Paris?"}
    assistant = body["messages"][2]
    assert assistant["role"] == "assistant"
    assert not assistant.get("content")
    assert "reasoning_content" not in assistant
    assert assistant["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    assert body["messages"][4] == {"role": "assistant", "content": "Sunny."}
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Current weather for a city.",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert body["tool_choice"] == "auto"
    assert (body["temperature"], body["top_p"], body["stop"]) == (0.2, 0.9, ["END"])
    assert body["reasoning_effort"] == "low"


async def test_config_temperature_applies_when_the_request_has_none(
    fake_upstream: FakeUpstream,
) -> None:
    body = (await sent(fake_upstream, "ollama", config={"temperature": 0.7})).body

    assert body["temperature"] == 0.7
    assert "reasoning_effort" not in body
    assert "tools" not in body


async def test_a_named_tool_choice_becomes_a_function_choice(
    fake_upstream: FakeUpstream,
) -> None:
    request = simple_request("openai", tools=(WEATHER,), tool_choice={"name": "weather"})

    body = (await sent(fake_upstream, "openai", request)).body

    assert body["tool_choice"] == {"type": "function", "function": {"name": "weather"}}


@pytest.mark.parametrize(
    ("module", "field", "env"),
    [
        ("openai", "api_key", "OPENAI_API_KEY"),
        ("azure-openai", "api_key", "AZURE_OPENAI_API_KEY"),
        ("azure-openai", "endpoint", "AZURE_OPENAI_ENDPOINT"),
        ("chat-completions", "endpoint", "CHAT_COMPLETIONS_BASE_URL"),
    ],
)
def test_a_missing_required_key_or_endpoint_is_not_configured(
    module: str, field: str, env: str
) -> None:
    settings = settings_for(module, "http://127.0.0.1:9", **{field: None})

    with pytest.raises(ProviderNotConfigured) as caught:
        ChatCompletionsProvider(settings)

    assert caught.value.env_var == env
