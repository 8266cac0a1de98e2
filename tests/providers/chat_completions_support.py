"""Shared set-up for the Chat Completions adapter tests: one endpoint per catalog module."""

from __future__ import annotations

from typing import Any

import httpx2

from amplifier_agent.core.errors import ProviderError
from amplifier_agent.core.messages import UserMessage
from amplifier_agent.core.stream import StreamEvent
from amplifier_agent.providers.base import ModelRequest, ProviderSettings
from amplifier_agent.providers.chat_completions import ChatCompletionsProvider
from testkit import FakeUpstream

MODULES = ("openai", "azure-openai", "ollama", "chat-completions")
KEYS = {
    "openai": "sk-test-openai-key",
    "azure-openai": "azure-test-key",
    "chat-completions": "cc-test-key",
}
AZURE_DEPLOYMENT = "my-gpt-deployment"
AZURE_API_VERSION = "2024-10-21"


def settings_for(
    module: str, fake_url: str, *, config: dict[str, Any] | None = None, **overrides: Any
) -> ProviderSettings:
    """Settings as the composition root resolves them, pointed at `fake_url`."""
    endpoint = {
        "openai": f"{fake_url}/v1",
        "azure-openai": fake_url,
        "ollama": fake_url,
        "chat-completions": f"{fake_url}/v1",
    }[module]
    fields: dict[str, Any] = {
        "provider_id": f"my-{module}",
        "module": module,
        "api_key": KEYS.get(module),
        "endpoint": endpoint,
        "api_version": AZURE_API_VERSION if module == "azure-openai" else None,
        "config": config or {},
    }
    fields.update(overrides)
    return ProviderSettings(**fields)


def model_for(module: str) -> str:
    """Azure addresses a deployment by name; the others a model id."""
    return AZURE_DEPLOYMENT if module == "azure-openai" else "gpt-5"


def chat_path(module: str) -> str:
    if module == "azure-openai":
        return f"/openai/deployments/{AZURE_DEPLOYMENT}/chat/completions"
    return "/v1/chat/completions"


def simple_request(module: str, **fields: Any) -> ModelRequest:
    return ModelRequest(model=model_for(module), messages=(UserMessage("hi"),), **fields)


async def collect(
    provider: ChatCompletionsProvider, request: ModelRequest
) -> tuple[list[StreamEvent], ProviderError | None]:
    """Every event of one call, and the error it ended with (None when it completed)."""
    events: list[StreamEvent] = []
    try:
        async for event in provider.stream(request):
            events.append(event)
    except ProviderError as exc:
        return events, exc
    return events, None


async def run_call(
    fake: FakeUpstream, module: str, request: ModelRequest | None = None, **settings: Any
) -> tuple[list[StreamEvent], ProviderError | None]:
    provider = ChatCompletionsProvider(settings_for(module, fake.url, **settings))
    try:
        return await collect(provider, request or simple_request(module))
    finally:
        await provider.aclose()


def sse_client(body: bytes) -> httpx2.AsyncClient:
    """An HTTP client whose every response is `body` as an event stream (hand-made wires)."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    return httpx2.AsyncClient(transport=httpx2.MockTransport(answer))


def chunk(delta: str, finish: str | None = None) -> bytes:
    """One `chat.completion.chunk` event carrying `delta` (raw JSON text)."""
    reason = "null" if finish is None else f'"{finish}"'
    return (
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[{"index":0,"delta":'
        + delta.encode()
        + b',"finish_reason":'
        + reason.encode()
        + b"}]}\n\n"
    )
