"""The HTTP face driven by the official `openai` npm SDK: Node scripts (tests/e2e/node/scripts)
talk to our server on loopback, the engine behind it, the fake Anthropic upstream behind that."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
import pytest

from testkit import Block, FakeUpstream, Reply, reply_text, reply_tool_calls
from tests.e2e.node import npm
from tests.e2e.server_harness import RunningServer, running_server, server_env, write_config

MODEL = "claude-sonnet-4-5-20250929"
SESSION_ID = "node-sdk-conversation-1"


@pytest.fixture(scope="session")
def node_packages() -> Path:
    """The pinned npm packages, installed once per test session (a failed install fails)."""
    return npm.ensure_installed()


@pytest.fixture
def server(
    tmp_path: Path, fake_upstream: FakeUpstream, node_packages: Path
) -> Iterator[RunningServer]:
    config = write_config(tmp_path / "host_config.json", {"providers": {"anthropic": {}}})
    env = server_env(
        tmp_path, {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": fake_upstream.url}
    )
    with running_server(config, env, cwd=tmp_path) as running:
        yield running


def client_env(server: RunningServer, **extra: str) -> dict[str, str]:
    return {"BASE_URL": server.base_url, "API_KEY": server.api_key, "MODEL": MODEL, **extra}


def expected_cost(input_tokens: int, output_tokens: int) -> Decimal:
    price = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=input_tokens, output_tokens=output_tokens),
        MODEL,
        provider_id="anthropic",
    )
    return Decimal(price.total_price)


def test_installed_sdk_is_the_pinned_one(node_packages: Path) -> None:
    manifest = (node_packages / "openai" / "package.json").read_text("utf-8")
    assert f'"version": "{npm.pinned_version("openai")}"' in manifest


def test_streamed_turn_delivers_text_and_costed_usage(
    server: RunningServer, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.enqueue(
        Reply(
            blocks=[Block(type="text", text="Hello from Node", chunks=["Hel", "lo from", " Node"])],
            usage={"input": 1200, "output": 80},
        )
    )
    result = npm.run_script("stream_turn.mjs", client_env(server, PROMPT="greet me"))
    assert result["text"] == "Hello from Node"
    assert result["roles"] == ["assistant"]
    assert result["finish_reasons"] == ["stop"]
    assert len(result["ids"]) == 1 and result["ids"][0].startswith("chatcmpl-")
    assert result["models"] == [MODEL]
    usage = result["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        1200,
        80,
        1280,
    )
    assert Decimal(usage["cost_usd"]) == expected_cost(1200, 80)
    sent = fake_upstream.model_requests()[-1].body
    assert sent["messages"][-1]["content"] in ("greet me", [{"type": "text", "text": "greet me"}])


def _two_word_length_calls() -> Reply:
    return reply_tool_calls(
        ("toolu_01A", "word_length", {"word": "alpha"}),
        ("toolu_01B", "word_length", {"word": "gamma"}),
        usage={"input": 400, "output": 30},
    )


def _tool_results(body: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (block["tool_use_id"], block["content"])
        for message in body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]


def _tool_use_ids(body: dict[str, Any]) -> list[str]:
    return [
        block["id"]
        for message in body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_use"
    ]


@pytest.mark.parametrize(
    "stream", ["1", "0", "default"], ids=["streamed", "buffered", "stream-omitted"]
)
def test_parallel_host_tool_round_trip(
    server: RunningServer, fake_upstream: FakeUpstream, stream: str
) -> None:
    fake_upstream.enqueue(_two_word_length_calls(), reply_text("Both words have 5 letters."))
    result = npm.run_script("host_tool_round_trip.mjs", client_env(server, STREAM=stream))
    first, final = result["legs"]
    assert first["finishReason"] == "tool_calls"
    assert [
        (c["id"], c["function"]["name"], c["function"]["arguments"]) for c in first["calls"]
    ] == [
        ("toolu_01A", "word_length", '{"word":"alpha"}'),
        ("toolu_01B", "word_length", '{"word":"gamma"}'),
    ]
    if stream == "1":
        # Each call arrives as one whole delta, never split (SPEC §8.8).
        assert first["deltasPerCall"] == [1, 1]
    else:
        assert first["object"] == final["object"] == "chat.completion"
    if stream == "default":
        # The negotiated case: no `stream` field, and the SDK asks for JSON.
        assert result["sent"] == [{"accept": "application/json", "stream": None}] * 2
    assert (first["usage"]["prompt_tokens"], first["usage"]["completion_tokens"]) == (400, 30)
    assert final["finishReason"] == "stop" and final["text"] == "Both words have 5 letters."
    echoed = result["history"][1]
    assert echoed["role"] == "assistant" and echoed["content"] is None
    continuation = fake_upstream.model_requests()[-1].body
    assert _tool_results(continuation) == [("toolu_01A", "5"), ("toolu_01B", "5")]
    assert _tool_use_ids(continuation) == ["toolu_01A", "toolu_01B"]


def test_session_header_round_trip_is_stored_once(
    server: RunningServer, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fake_upstream.enqueue(_two_word_length_calls(), reply_text("Both words have 5 letters."))
    result = npm.run_script(
        "host_tool_round_trip.mjs", client_env(server, STREAM="1", SESSION_ID=SESSION_ID)
    )
    assert [leg["finishReason"] for leg in result["legs"]] == ["tool_calls", "stop"]
    state_root = Path(server_env(tmp_path)["AMPLIFIER_AGENT_HOME"])
    sessions = sorted(p.name for p in state_root.glob("state/workspaces/*/sessions/*"))
    assert sessions == [f"http-{SESSION_ID}"]


def test_session_continuation_sends_each_tool_use_once(
    server: RunningServer, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.enqueue(_two_word_length_calls(), reply_text("Both words have 5 letters."))
    npm.run_script(
        "host_tool_round_trip.mjs", client_env(server, STREAM="1", SESSION_ID=SESSION_ID)
    )
    continuation = fake_upstream.model_requests()[-1].body
    assert _tool_use_ids(continuation) == ["toolu_01A", "toolu_01B"]
