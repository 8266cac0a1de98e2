"""Model listing through the Chat Completions adapter: live `GET /models`, static lists, Azure."""

from __future__ import annotations

import httpx2
import pytest

from amplifier_agent.core.errors import ProviderError
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.providers.chat_completions import ChatCompletionsProvider
from testkit import FakeUpstream
from tests.providers.chat_completions_support import KEYS, settings_for

LIVE = [
    {"id": "llama3.1:8b", "created": 1721606400, "owned_by": "library"},
    {"id": "qwen3:4b", "created": 1745884800, "owned_by": "library"},
]


async def listed(fake: FakeUpstream, module: str, **settings: object) -> list[ModelInfo]:
    provider = ChatCompletionsProvider(settings_for(module, fake.url, **settings))  # type: ignore[arg-type]
    try:
        return await provider.list_models()
    finally:
        await provider.aclose()


@pytest.mark.parametrize("module", ["openai", "ollama", "chat-completions"])
async def test_live_listing_returns_ids_and_creation_times(
    fake_upstream: FakeUpstream, module: str
) -> None:
    fake_upstream.set_models(LIVE)

    models = await listed(fake_upstream, module)

    assert models == [
        ModelInfo(id="llama3.1:8b", display_name="llama3.1:8b", created=1721606400),
        ModelInfo(id="qwen3:4b", display_name="qwen3:4b", created=1745884800),
    ]
    (request,) = fake_upstream.requests
    assert (request.method, request.path) == ("GET", "/v1/models")
    if module in KEYS:
        assert request.headers["authorization"] == f"Bearer {KEYS[module]}"


@pytest.mark.parametrize("module", ["openai", "azure-openai", "ollama", "chat-completions"])
async def test_a_static_model_list_wins_without_asking_upstream(
    fake_upstream: FakeUpstream, module: str
) -> None:
    models = await listed(fake_upstream, module, config={"models": ["alpha", "beta"]})

    assert [m.id for m in models] == ["alpha", "beta"]
    assert all(m.display_name == m.id for m in models)
    assert fake_upstream.requests == []


async def test_azure_lists_its_default_deployment(fake_upstream: FakeUpstream) -> None:
    models = await listed(fake_upstream, "azure-openai", config={"default_model": "prod-gpt"})

    assert [m.id for m in models] == ["prod-gpt"]
    assert fake_upstream.requests == []


async def test_azure_with_nothing_to_list_says_what_to_configure(
    fake_upstream: FakeUpstream,
) -> None:
    with pytest.raises(ProviderError) as caught:
        await listed(fake_upstream, "azure-openai")

    assert "config.models" in caught.value.message
    assert "config.default_model" in caught.value.message


async def test_a_listing_rejected_for_credentials_is_an_auth_error() -> None:
    def reject(request: httpx2.Request) -> httpx2.Response:
        body = {"error": {"message": "bad key", "type": "invalid_request_error", "code": None}}
        return httpx2.Response(401, json=body)

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(reject))
    provider = ChatCompletionsProvider(
        settings_for("openai", "http://upstream.invalid"), http_client=http
    )
    with pytest.raises(ProviderError) as caught:
        await provider.list_models()
    await http.aclose()

    assert (caught.value.upstream, caught.value.status) == ("upstream_auth_error", 401)
    assert "bad key" in caught.value.message
