"""Clients that leave `stream` out (SPEC §8.4): LiteLLM as a real client, non-stream and stream,
text and tool calls, and curl, whose default `Accept: */*` (or none) keeps SSE. One server and
one fake upstream for the module; LiteLLM is imported once, offline, inside a fixture."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from testkit import FakeUpstream, reply_text, reply_tool_calls
from tests.e2e.server_harness import RunningServer, running_server, write_config
from tests.e2e.test_http_rejections import anthropic_entry, scrubbed_env, sse_data

MODEL = "claude-sonnet-4-5-20250929"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
# LiteLLM's own pydantic models warn while they are built; that is not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Item .*ReadOnly:UserWarning")
#: Keep LiteLLM on its bundled copies: no cost map, beta-header list or telemetry fetch.
LITELLM_OFFLINE_ENV = {
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_TELEMETRY": "False",
}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("negotiation")
    providers = {"anthropic": anthropic_entry(upstream.url)}
    config = write_config(root / "host_config.json", {"providers": providers})
    env = scrubbed_env(root, {"ANTHROPIC_API_KEY": "sk-ant-test"})
    with running_server(config, env, cwd=root) as running:
        yield running


@pytest.fixture(scope="module")
def litellm() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in LITELLM_OFFLINE_ENV.items():
            patch.setenv(name, value)
        import litellm as module  # slow to import: only this module pays for it

        module.telemetry = False
        yield module


def completion(litellm: Any, server: RunningServer, **fields: Any) -> Any:
    return litellm.completion(
        model=f"openai/{MODEL}",
        api_base=server.base_url,
        api_key=server.api_key,
        messages=[{"role": "user", "content": "weather in Oslo and Rome?"}],
        num_retries=0,
        **fields,
    )


def _two_weather_calls() -> Any:
    return reply_tool_calls(
        ("toolu_01A", "get_weather", {"city": "Oslo"}),
        ("toolu_01B", "get_weather", {"city": "Rome"}),
    )


def _calls(message: Any) -> list[tuple[str, str, str]]:
    return [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []]


EXPECTED_CALLS = [
    ("toolu_01A", "get_weather", '{"city":"Oslo"}'),
    ("toolu_01B", "get_weather", '{"city":"Rome"}'),
]


def test_litellm_non_stream_text_and_tool_calls(
    litellm: Any, server: RunningServer, fake: FakeUpstream
) -> None:
    fake.enqueue(
        reply_text("Sunny in both.", usage={"input": 12, "output": 4}), _two_weather_calls()
    )
    text = completion(litellm, server)
    assert text.choices[0].message.content == "Sunny in both."
    assert text.choices[0].finish_reason == "stop"
    assert (text.usage.prompt_tokens, text.usage.completion_tokens) == (12, 4)
    calls = completion(litellm, server, tools=[WEATHER_TOOL])
    assert calls.choices[0].finish_reason == "tool_calls"
    assert _calls(calls.choices[0].message) == EXPECTED_CALLS


def test_litellm_stream_text_and_tool_calls(
    litellm: Any, server: RunningServer, fake: FakeUpstream
) -> None:
    fake.enqueue(reply_text("Sunny in both."), _two_weather_calls())
    chunks = list(completion(litellm, server, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Sunny in both."
    rebuilt = litellm.stream_chunk_builder(
        list(completion(litellm, server, stream=True, tools=[WEATHER_TOOL]))
    )
    assert rebuilt.choices[0].finish_reason == "tool_calls"
    assert _calls(rebuilt.choices[0].message) == EXPECTED_CALLS


def curl(server: RunningServer, *headers: str) -> tuple[dict[str, str], str]:
    """POST a chat request with curl (no `stream` field); returns the headers and the body."""
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    argv = ["curl", "-sS", "-i", "--max-time", "20", f"{server.base_url}/chat/completions"]
    argv += [
        "-H",
        f"Authorization: Bearer {server.api_key}",
        "-H",
        "Content-Type: application/json",
    ]
    for header in headers:
        argv += ["-H", header]
    completed = subprocess.run([*argv, "-d", body], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 0, completed.stderr
    head, _, payload = completed.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *lines = head.splitlines()
    assert " 200 " in status_line + " ", head
    fields = dict(line.split(": ", 1) for line in lines)
    return {k.lower(): v for k, v in fields.items()}, payload


@pytest.mark.parametrize("accept", [(), ("Accept:",)], ids=["curl-default", "no-accept"])
def test_curl_without_a_json_preference_streams(
    server: RunningServer, fake: FakeUpstream, accept: tuple[str, ...]
) -> None:
    fake.enqueue(reply_text("streamed"))
    headers, payload = curl(server, *accept)
    assert headers["content-type"] == "text/event-stream"
    frames = sse_data(payload)
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "streamed"
    assert chunks[-1]["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}


def test_curl_asking_for_json_gets_one_body(server: RunningServer, fake: FakeUpstream) -> None:
    fake.enqueue(reply_text("buffered"))
    headers, payload = curl(server, "Accept: application/json")
    assert headers["content-type"] == "application/json"
    body = json.loads(payload)
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "buffered"
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
