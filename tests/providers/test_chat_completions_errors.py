"""How the Chat Completions adapter fails: every upstream failure maps to one SPEC §8.7 code."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from amplifier_agent.core.errors import ProviderError
from amplifier_agent.core.stream import TextDelta
from amplifier_agent.providers.chat_completions import ChatCompletionsProvider
from amplifier_agent.providers.transport import server_transport
from testkit import Block, FakeUpstream, RecordedRequest, Reply, reply_text
from tests.providers.chat_completions_support import (
    KEYS,
    MODULES,
    chunk,
    collect,
    run_call,
    settings_for,
    simple_request,
    sse_client,
)

#: The SDK makes one call plus two retries; a fast Retry-After keeps the retries quick.
ATTEMPTS = 3
FAST_RETRY = {"retry-after": "0.01"}


@pytest.fixture(autouse=True, params=["sdk-default", "server-aiohttp"])
def transport(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every failure maps the same over the SDK's default transport and the server's aiohttp."""
    if request.param == "sdk-default":
        yield
        return
    with server_transport():
        yield


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return reply_text("", error={"status": status, "message": message, "headers": headers or {}})


async def failure(fake: FakeUpstream, module: str, **settings: object) -> ProviderError:
    events, error = await run_call(fake, module, **settings)  # type: ignore[arg-type]
    assert error is not None, f"expected a failure, got {events}"
    return error


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("status", [401, 403])
async def test_rejected_credentials_are_an_auth_error_without_the_key(
    fake_upstream: FakeUpstream, module: str, status: int
) -> None:
    secret = KEYS.get(module, "no-key")
    fake_upstream.enqueue(error_reply(status, f"Incorrect API key provided: {secret}."))

    error = await failure(fake_upstream, module)

    assert error.upstream == "upstream_auth_error"
    assert error.status == status
    assert str(status) in error.message
    assert "Incorrect API key provided" in error.message
    if module in KEYS:
        assert secret not in str(error)
    assert len(fake_upstream.model_requests()) == 1


@pytest.mark.parametrize("module", MODULES)
async def test_rate_limiting_after_the_sdk_retries_carries_retry_after(
    fake_upstream: FakeUpstream, module: str
) -> None:
    reply = error_reply(429, "Rate limit reached for requests", {"retry-after": "0.02"})
    fake_upstream.enqueue(*[reply] * ATTEMPTS)

    error = await failure(fake_upstream, module)

    assert error.upstream == "rate_limited"
    assert error.status == 429
    assert error.retry_after == pytest.approx(0.02)
    assert "Rate limit reached" in error.message
    assert len(fake_upstream.model_requests()) == ATTEMPTS


async def test_retry_after_wins_and_retry_after_ms_is_read_in_seconds(
    fake_upstream: FakeUpstream,
) -> None:
    both = error_reply(429, "slow down", {"retry-after-ms": "30", "retry-after": "9"})
    millis_only = error_reply(429, "slow down", {"retry-after-ms": "30"})
    fake_upstream.enqueue(*[both] * ATTEMPTS, *[millis_only] * ATTEMPTS)

    assert (await failure(fake_upstream, "openai")).retry_after == pytest.approx(9)
    assert (await failure(fake_upstream, "openai")).retry_after == pytest.approx(0.03)


@pytest.mark.parametrize("module", MODULES)
async def test_a_server_error_after_retries_is_an_upstream_error(
    fake_upstream: FakeUpstream, module: str
) -> None:
    fake_upstream.enqueue(*[error_reply(500, "The server had an error", FAST_RETRY)] * ATTEMPTS)

    error = await failure(fake_upstream, module)

    assert error.upstream == "upstream_error"
    assert error.status == 500
    assert "500" in error.message and "The server had an error" in error.message
    assert len(fake_upstream.model_requests()) == ATTEMPTS


async def test_a_server_error_once_is_retried_by_the_sdk(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(error_reply(503, "overloaded", FAST_RETRY), reply_text("recovered"))

    events, error = await run_call(fake_upstream, "openai")

    assert error is None
    assert events[0] == TextDelta("recovered")


async def test_another_client_error_is_an_upstream_error_not_retried(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.enqueue(error_reply(400, "Unsupported parameter: 'top_k'"))

    error = await failure(fake_upstream, "chat-completions")

    assert (error.upstream, error.status) == ("upstream_error", 400)
    assert "Unsupported parameter" in error.message
    assert len(fake_upstream.model_requests()) == 1


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("module", ["openai", "ollama"])
async def test_a_refused_connection_is_upstream_unavailable(module: str) -> None:
    settings = settings_for(module, f"http://127.0.0.1:{closed_port()}")
    provider = ChatCompletionsProvider(settings)
    try:
        _, error = await collect(provider, simple_request(module))
    finally:
        await provider.aclose()

    assert error is not None
    assert error.upstream == "upstream_unavailable"
    assert error.status is None


@pytest.mark.parametrize("module", MODULES)
async def test_a_stream_that_dies_midway_is_an_upstream_error_after_its_deltas(
    fake_upstream: FakeUpstream, module: str
) -> None:
    fake_upstream.enqueue(
        Reply(blocks=[Block(type="text", chunks=["a", "b", "c", "d"])], die_after_events=3)
    )

    events, error = await run_call(fake_upstream, module)

    assert events == [TextDelta("a"), TextDelta("b")]
    assert error is not None
    assert error.upstream == "upstream_error"
    assert len(fake_upstream.model_requests()) == 1


async def test_a_stream_that_stalls_past_the_stall_timeout_is_upstream_timeout(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.enqueue(
        Reply(blocks=[Block(type="text", chunks=["a", "b"])], stall_after_events=2, stall_s=2.5)
    )

    events, error = await run_call(fake_upstream, "openai", config={"stall_timeout_s": 1})

    assert error is not None
    assert error.upstream == "upstream_timeout"
    # Had the call waited the stall out, "b" and a CallDone would have followed.
    assert events == [TextDelta("a")]


# -- malformed streams, through an injected transport -------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        chunk('{"content":"hi"}') + b"data: {not json\n\n",
        chunk('{"content":"hi"}') + b"data: [DONE]\n\n",
        b'data: {"error":{"message":"model overloaded","type":"server_error"}}\n\n',
    ],
    ids=["bad-json", "no-finish-reason", "error-event"],
)
async def test_a_malformed_stream_is_an_upstream_error(body: bytes) -> None:
    http = sse_client(body)
    settings = settings_for("chat-completions", "http://upstream.invalid")
    provider = ChatCompletionsProvider(settings, http_client=http)

    _, error = await collect(provider, simple_request("chat-completions"))
    await provider.aclose()

    assert error is not None
    assert error.upstream == "upstream_error"
    assert not http.is_closed, "an injected client belongs to its owner"
    await http.aclose()


# -- cancellation ------------------------------------------------------------------------------


def slow_reply() -> Reply:
    return Reply(blocks=[Block(type="text", chunks=[f"t{i} " for i in range(40)])], delay_s=0.05)


async def wait_for_outcome(fake: FakeUpstream, outcome: str, within_s: float) -> RecordedRequest:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        recorded = fake.model_requests()
        if recorded and recorded[0].outcome == outcome:
            return recorded[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"request outcome {fake.model_requests()[0].outcome!r}, not {outcome!r}")


@pytest.mark.parametrize("module", MODULES)
async def test_breaking_out_early_closes_the_upstream_connection(
    fake_upstream: FakeUpstream, module: str
) -> None:
    fake_upstream.enqueue(slow_reply())
    provider = ChatCompletionsProvider(settings_for(module, fake_upstream.url))
    try:
        async for event in provider.stream(simple_request(module)):
            assert event == TextDelta("t0 ")
            break
        await wait_for_outcome(fake_upstream, "client_closed", within_s=1.0)
    finally:
        await provider.aclose()


async def test_cancelling_the_consumer_closes_the_upstream_connection(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.enqueue(slow_reply())
    provider = ChatCompletionsProvider(settings_for("openai", fake_upstream.url))
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in provider.stream(simple_request("openai")):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    try:
        await wait_for_outcome(fake_upstream, "client_closed", within_s=1.0)
    finally:
        await provider.aclose()
