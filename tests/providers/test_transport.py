"""The server's SDK clients run over aiohttp; every other client keeps the SDK's default."""

from __future__ import annotations

import anthropic
import openai

from amplifier_agent.core.stream import CallDone, TextDelta
from amplifier_agent.providers.anthropic import AnthropicProvider
from amplifier_agent.providers.base import ProviderSettings
from amplifier_agent.providers.chat_completions import ChatCompletionsProvider
from amplifier_agent.providers.transport import server_transport
from testkit import FakeUpstream, reply_text
from tests.providers.chat_completions_support import collect, settings_for, simple_request


def _anthropic_settings(url: str) -> ProviderSettings:
    return ProviderSettings(
        provider_id="main", module="anthropic", api_key="sk-ant-test", endpoint=url, config={}
    )


async def test_providers_built_for_the_server_use_the_sdks_aiohttp_client(
    fake_upstream: FakeUpstream,
) -> None:
    with server_transport():
        chat = ChatCompletionsProvider(settings_for("openai", fake_upstream.url))
        claude = AnthropicProvider(_anthropic_settings(fake_upstream.url))
    try:
        # The SDK client's own HTTP client is what decides the transport.
        assert isinstance(chat._client._client, openai.DefaultAioHttpClient)
        assert isinstance(claude._client._client, anthropic.DefaultAioHttpClient)
    finally:
        await chat.aclose()
        await claude.aclose()


async def test_providers_built_elsewhere_keep_the_sdk_default(fake_upstream: FakeUpstream) -> None:
    chat = ChatCompletionsProvider(settings_for("openai", fake_upstream.url))
    claude = AnthropicProvider(_anthropic_settings(fake_upstream.url))
    try:
        assert not isinstance(chat._client._client, openai.DefaultAioHttpClient)
        assert not isinstance(claude._client._client, anthropic.DefaultAioHttpClient)
    finally:
        await chat.aclose()
        await claude.aclose()


async def test_a_call_over_aiohttp_streams_the_same_events(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(reply_text("hello there"))
    with server_transport():
        provider = ChatCompletionsProvider(settings_for("openai", fake_upstream.url))
    try:
        events, error = await collect(provider, simple_request("openai"))
    finally:
        await provider.aclose()
    assert error is None
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "hello there"
    assert isinstance(events[-1], CallDone)
    sent = fake_upstream.model_requests()[0]
    assert sent.body["messages"] == [{"role": "user", "content": "hi"}]
