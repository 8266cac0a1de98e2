"""No pydantic object is built per streamed chunk: the count of model constructions during a
call is the same for a 20-chunk and a 200-chunk reply, through each adapter's real SDK against
the loopback fake. Nor does the SDK re-walk the (already plain JSON) request body per call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anthropic._base_client
import openai._base_client
import openai._utils._transform
import pydantic
import pytest

from amplifier_agent.core.messages import UserMessage
from amplifier_agent.core.stream import CallDone, TextDelta
from amplifier_agent.providers.anthropic import AnthropicProvider
from amplifier_agent.providers.base import ModelRequest, Provider, ProviderSettings
from amplifier_agent.providers.chat_completions import ChatCompletionsProvider
from testkit import Block, FakeUpstream, Reply


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return function(*args, **kwargs)

        return counted


@contextmanager
def counting_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    """Counts every pydantic model built (validated or not) and every SDK response parse."""
    counter = Counter()
    with monkeypatch.context() as patch:
        patch.setattr(pydantic.BaseModel, "__init__", counter.wrap(pydantic.BaseModel.__init__))
        # `model_construct` builds without `__init__`. (`__new__` is not patched: CPython cannot
        # give a class back the `__new__` it inherited from `object` once one was assigned.)
        construct = pydantic.BaseModel.model_construct.__func__  # type: ignore[attr-defined]
        patch.setattr(pydantic.BaseModel, "model_construct", classmethod(counter.wrap(construct)))
        for module in (openai._base_client, anthropic._base_client):
            patch.setattr(module, "construct_type", counter.wrap(module.construct_type))
        yield counter


def anthropic_provider(url: str) -> Provider:
    return AnthropicProvider(ProviderSettings("claude", "anthropic", api_key="k", endpoint=url))


def openai_provider(url: str) -> Provider:
    return ChatCompletionsProvider(
        ProviderSettings("gpt", "openai", api_key="k", endpoint=f"{url}/v1")
    )


async def constructions(
    fake: FakeUpstream, make: Callable[[str], Provider], chunks: int, patch: pytest.MonkeyPatch
) -> int:
    fake.enqueue(Reply(blocks=[Block(type="text", chunks=[f"w{i} " for i in range(chunks)])]))
    provider = make(fake.url)
    request = ModelRequest(model="claude-sonnet-4-6", messages=(UserMessage("hi"),))
    try:
        with counting_models(patch) as counter:
            events = [event async for event in provider.stream(request)]
    finally:
        await provider.aclose()
    assert sum(isinstance(e, TextDelta) for e in events) == chunks
    assert isinstance(events[-1], CallDone)
    return counter.count


@pytest.mark.parametrize("make", [anthropic_provider, openai_provider], ids=["anthropic", "openai"])
async def test_model_constructions_do_not_grow_with_the_chunk_count(
    fake_upstream: FakeUpstream, make: Callable[[str], Provider], monkeypatch: pytest.MonkeyPatch
) -> None:
    few = await constructions(fake_upstream, make, 20, monkeypatch)
    many = await constructions(fake_upstream, make, 200, monkeypatch)
    assert many == few, f"20 chunks: {few} models built, 200 chunks: {many}"


async def test_the_openai_sdk_does_not_walk_the_request_body(
    fake_upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = Counter()
    for name in ("_transform_recursive", "_async_transform_recursive"):
        function = getattr(openai._utils._transform, name)
        monkeypatch.setattr(openai._utils._transform, name, counter.wrap(function))
    fake_upstream.enqueue(Reply(blocks=[Block(type="text", text="hi")]))
    provider = openai_provider(fake_upstream.url)
    history = tuple(UserMessage(f"message {i}") for i in range(20))
    try:
        events = [e async for e in provider.stream(ModelRequest(model="m", messages=history))]
    finally:
        await provider.aclose()
    assert events[0] == TextDelta("hi")
    assert counter.count == 0
    assert len(fake_upstream.model_requests()[0].body["messages"]) == 20
