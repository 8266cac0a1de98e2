"""`GET /metrics` after real traffic through a real server (SPEC-free, docs/operations.md): each
counter's exact value and each histogram's count, parsed with prometheus-client's own parser;
the bearer guard and `--metrics-public`; and no client-chosen string ever becoming a label."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from testkit import Block, FakeUpstream, Reply, reply_text, reply_tool_calls
from tests.e2e.server_harness import RunningServer, running_server, write_config
from tests.e2e.test_http_rejections import anthropic_entry, assert_error, scrubbed_env
from tests.e2e.test_http_streaming import content_of, open_stream

MODEL = "claude-sonnet-4-5-20250929"
CHAT = "/v1/chat/completions"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("metrics")
    providers = {
        "a": anthropic_entry(upstream.url),
        "slow": anthropic_entry(upstream.url, stall_timeout_s=0.3),
    }
    config = write_config(root / "host_config.json", {"providers": providers})
    env = scrubbed_env(root, {"ANTHROPIC_API_KEY": "sk-ant-test"})
    with running_server(config, env, cwd=root) as running:
        yield running


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx2.Client]:
    auth = {"authorization": f"Bearer {server.api_key}"}
    with httpx2.Client(base_url=server.url, headers=auth, timeout=20) as client:
        yield client


def scrape(http: httpx2.Client) -> Samples:
    response = http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def growth(before: Samples, after: Samples) -> Samples:
    """How much each sample grew (the module's server is shared, so tests compare scrapes)."""
    return {key: after[key] - before.get(key, 0.0) for key in after}


def chat(http: httpx2.Client, body: dict[str, Any], **headers: str) -> httpx2.Response:
    return http.post(CHAT, json=body, headers=headers)


def body(model: str = f"a/{MODEL}", **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **fields}


WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


def drive_traffic(http: httpx2.Client, fake: FakeUpstream) -> None:
    """Stream, JSON, a host-tool round trip, built-in tools (one known, one made up), an
    upstream 401 (our 502), a stall (our 504) and a busy session (409)."""
    fake.enqueue(reply_text("streamed"))
    assert "streamed" in chat(http, body(stream=True)).text

    usage = {"input": 7, "output": 3, "cache_read": 2, "cache_write": 1}
    fake.enqueue(reply_text("buffered", usage=usage))
    assert chat(http, body(stream=False)).json()["choices"][0]["message"]["content"] == "buffered"

    fake.enqueue(reply_tool_calls(("call_w", "get_weather", {})))
    handed = chat(http, body(stream=False, tools=[WEATHER_TOOL])).json()
    assert handed["choices"][0]["finish_reason"] == "tool_calls"
    call = handed["choices"][0]["message"]["tool_calls"][0]
    fake.enqueue(reply_text("sunny"))
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "22C"},
    ]
    after = chat(http, {"model": f"a/{MODEL}", "messages": messages, "tools": [WEATHER_TOOL]})
    assert "sunny" in after.text

    fake.enqueue(
        reply_tool_calls(("c1", "glob", {"pattern": "*.json"}), ("c2", "made_up_zq", {})),
        reply_text("tools done"),
    )
    assert "tools done" in chat(http, body(stream=False)).text

    fake.enqueue(Reply(error={"status": 401, "message": "invalid x-api-key"}))
    assert_error(chat(http, body(stream=False)), 502, "upstream_auth_error")

    fake.enqueue(reply_text("late", stall_after_events=1, stall_s=1.5))
    assert_error(chat(http, body(f"slow/{MODEL}", stream=False)), 504, "upstream_timeout")

    words = [f"w{i} " for i in range(6)]
    fake.enqueue(Reply(blocks=[Block(type="text", text="".join(words), chunks=words)], delay_s=0.1))
    session = {"x-client-session-id": "busy-metrics"}
    stream, context = open_stream(http, f"a/{MODEL}", headers=session)
    try:
        stream.until(lambda f: content_of(f) is not None)
        assert_error(chat(http, body(stream=False), **session), 409, "session_busy")
        stream.until(lambda f: f.text == "data: [DONE]")
    finally:
        context.__exit__(None, None, None)


def test_real_traffic_is_counted_exactly(http: httpx2.Client, fake: FakeUpstream) -> None:
    start = scrape(http)
    drive_traffic(http, fake)
    first = growth(start, scrape(http))

    a = {"provider": "a", "model": MODEL}
    requests = "amplifier_agent_http_requests_total"
    assert value(first, requests, route=CHAT, status="200", **a) == 6
    assert value(first, requests, route=CHAT, status="502", **a) == 1
    assert value(first, requests, route=CHAT, status="409", **a) == 1
    assert value(first, requests, route=CHAT, status="504", provider="slow", model=MODEL) == 1
    # A scrape counts itself once it has been answered.
    metrics_route = {"route": "/metrics", "status": "200", "provider": "", "model": ""}
    assert value(first, requests, **metrics_route) == 1

    tokens = "amplifier_agent_tokens_total"
    # Seven priced calls of `a`: six with the default usage (10 in, 5 out), one with `usage`.
    assert value(first, tokens, kind="input", **a) == 6 * 10 + 7
    assert value(first, tokens, kind="output", **a) == 6 * 5 + 3
    assert value(first, tokens, kind="cache_read", **a) == 2
    assert value(first, tokens, kind="cache_write", **a) == 1
    assert value(first, "amplifier_agent_cost_usd_total", **a) > 0

    errors = "amplifier_agent_upstream_errors_total"
    assert value(first, errors, provider="a", code="upstream_auth_error") == 1
    assert value(first, errors, provider="slow", code="upstream_timeout") == 1
    assert value(first, "amplifier_agent_stall_watchdog_firings_total", provider="slow") == 1
    assert value(first, "amplifier_agent_stall_watchdog_firings_total", provider="a") == 0

    tools = "amplifier_agent_tool_calls_total"
    assert value(first, tools, tool="glob", outcome="ok") == 1
    assert value(first, tools, tool="other", outcome="error") == 1
    assert value(first, "amplifier_agent_host_tool_round_trips_total", **a) == 1
    assert value(first, "amplifier_agent_session_lock_conflicts_total") == 1
    assert value(start, "amplifier_agent_turns_in_flight") == 0

    # Every turn that ran (eight of `a`, one of `slow`) has a duration and an overhead; a first
    # token came in five of them (the tool-call-only replies and the failures have none).
    durations = "amplifier_agent_turn_duration_seconds_count"
    assert value(first, durations, **a) == 8
    assert value(first, durations, provider="slow", model=MODEL) == 1
    assert value(first, "amplifier_agent_overhead_seconds_count") == 9
    assert value(first, "amplifier_agent_time_to_first_token_seconds_count", **a) == 5


def test_metrics_need_the_key(server: RunningServer) -> None:
    assert httpx2.get(server.url + "/metrics").status_code == 401
    assert httpx2.get(server.url + "/metrics", headers={"host": "evil.example"}).status_code == 421


def test_metrics_public_skips_the_key_but_not_the_host_check(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    config = write_config(
        tmp_path / "public.json", {"providers": {"a": anthropic_entry(upstream.url)}}
    )
    env = scrubbed_env(tmp_path, {"ANTHROPIC_API_KEY": "sk-ant-test"})
    args = ("--metrics-public",)
    with running_server(config, env, cwd=tmp_path, args=args) as public:
        assert httpx2.get(public.url + "/metrics").status_code == 200
        bad_host = httpx2.get(public.url + "/metrics", headers={"host": "evil.example"})
        assert bad_host.status_code == 421
        assert httpx2.get(public.url + "/v1/models").status_code == 401


def _random(n: int) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=n))


def test_random_models_sessions_and_paths_add_no_series(
    http: httpx2.Client, fake: FakeUpstream
) -> None:
    """1,000 requests whose model names, session ids, tool names and paths are all fresh."""
    fake.set_default(reply_text("ok"))

    def one_of_each() -> None:
        chat(http, body(_random(12)))
        chat(http, body(f"a/{_random(8)}"))
        tool = {"type": "function", "function": {"name": _random(10)}}
        session = {"x-client-session-id": _random(16), "x-request-id": _random(20)}
        chat(http, body(stream=False, tools=[tool]), **session)
        http.get("/" + _random(10))
        http.get("/v1/models/" + _random(10))

    one_of_each()
    scrape(http)  # the first scrape's own series shows up from the second one on
    before = scrape(http)
    for _ in range(1000 // 5 - 1):
        one_of_each()
    after = scrape(http)
    assert set(after) == set(before)
    grown = growth(before, after)
    assert (
        value(
            grown,
            "amplifier_agent_http_requests_total",
            route="other",
            status="404",
            provider="",
            model="",
        )
        == 1000 // 5 - 1
    )


def overhead_ms(response: httpx2.Response) -> float:
    return float(response.headers["x-amplifier-overhead-ms"])


def test_every_chat_response_carries_our_overhead(http: httpx2.Client, fake: FakeUpstream) -> None:
    """Streamed (set when the headers go out), buffered, and refused responses alike; the time
    an upstream takes (300 ms before each of its events here) does not count as ours."""
    fake.enqueue(reply_text("slow upstream", delay_s=0.3), reply_text("streamed"))
    buffered = chat(http, body(stream=False))
    streamed = chat(http, body(stream=True))
    refused = chat(http, body("no-such-model"))
    assert buffered.status_code == 200 and streamed.status_code == 200
    assert refused.status_code == 400
    for response in (buffered, streamed, refused):
        assert 0 <= overhead_ms(response) < 10_000
    upstream_ms = 300  # at least the wait before the upstream's first event
    elapsed_ms = buffered.elapsed.total_seconds() * 1000
    assert elapsed_ms >= upstream_ms
    assert overhead_ms(buffered) < elapsed_ms - upstream_ms + 1, "upstream time counted as ours"
    assert "x-amplifier-overhead-ms" not in http.get("/v1/models").headers


def test_the_responses_route_is_watched_like_chat(http: httpx2.Client, fake: FakeUpstream) -> None:
    before = scrape(http)
    fake.enqueue(reply_text("from responses"))
    response = http.post("/v1/responses", json={"model": f"a/{MODEL}", "input": "hi"})
    assert response.status_code == 200, response.text
    assert overhead_ms(response) >= 0
    grown = growth(before, scrape(http))
    labels = {"route": "/v1/responses", "status": "200", "provider": "a", "model": MODEL}
    assert value(grown, "amplifier_agent_http_requests_total", **labels) == 1
    assert (
        value(grown, "amplifier_agent_tokens_total", provider="a", model=MODEL, kind="output") == 5
    )
