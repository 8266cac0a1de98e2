"""An error the upstream reports inside a started stream maps the same way on both wires, by its
type, through each adapter's real SDK over an in-memory transport."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import orjson
import pytest

from amplifier_agent.core.errors import ProviderError
from amplifier_agent.core.messages import UserMessage
from amplifier_agent.core.stream import TextDelta
from amplifier_agent.providers.anthropic import AnthropicProvider
from amplifier_agent.providers.base import ModelRequest, Provider, ProviderSettings
from amplifier_agent.providers.chat_completions import ChatCompletionsProvider

KEY = "sk-secret-0123456789"


def client(body: bytes) -> httpx2.AsyncClient:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    return httpx2.AsyncClient(transport=httpx2.MockTransport(answer))


def anthropic_stream(error: bytes) -> Provider:
    start = {"type": "message_start", "message": {"model": "m", "usage": {"input_tokens": 1}}}
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "a"},
    }
    body = (
        b"event: message_start\ndata: " + orjson.dumps(start) + b"\n\n"
        b"event: ping\ndata: {}\n\n"
        b"event: content_block_delta\ndata: " + orjson.dumps(delta) + b"\n\n"
        b"event: error\ndata: " + orjson.dumps({"type": "error", "error": orjson.loads(error)})
    ) + b"\n\n"
    settings = ProviderSettings("claude", "anthropic", api_key=KEY, endpoint="http://x")
    return AnthropicProvider(settings, http_client=client(body))


def openai_stream(error: bytes) -> Provider:
    chunk = {"model": "m", "choices": [{"index": 0, "delta": {"content": "a"}}]}
    body = b"data: " + orjson.dumps(chunk) + b'\n\ndata: {"error": ' + error + b"}\n\n"
    settings = ProviderSettings("gpt", "openai", api_key=KEY, endpoint="http://x/v1")
    return ChatCompletionsProvider(settings, http_client=client(body))


@pytest.mark.parametrize("make", [anthropic_stream, openai_stream], ids=["anthropic", "openai"])
@pytest.mark.parametrize(
    ("error_type", "upstream"),
    [
        ("overloaded_error", "upstream_error"),
        ("rate_limit_error", "rate_limited"),
        ("authentication_error", "upstream_auth_error"),
        ("permission_error", "upstream_auth_error"),
    ],
)
async def test_an_error_event_maps_by_its_type_after_the_deltas_before_it(
    make: Callable[[bytes], Provider], error_type: str, upstream: str
) -> None:
    error = {"type": error_type, "message": f"went wrong for key {KEY}"}
    provider = make(orjson.dumps(error))
    events = []
    request = ModelRequest(model="m", messages=(UserMessage("hi"),))
    with pytest.raises(ProviderError) as caught:
        async for event in provider.stream(request):
            events.append(event)
    await provider.aclose()
    assert events == [TextDelta("a")]
    assert caught.value.upstream == upstream
    assert error_type in caught.value.detail and "went wrong" in caught.value.detail
    assert KEY not in caught.value.detail
