"""OpenTelemetry traces seen by a real OTLP/HTTP receiver on loopback: a turn span with its model
and tool calls as children, the GenAI semantic-convention attributes, the caller's W3C trace as
parent, on the HTTP face, in `run` and in `serve stdio`; prompt text only when the user opts in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from testkit import FakeUpstream, reply_text, reply_tool_calls
from testkit.otlp import OtlpReceiver, ReceivedSpan
from tests.e2e.conftest import ROOT_MODEL, AgentCli
from tests.e2e.server_harness import running_server, write_config
from tests.e2e.stdio_harness import StdioHost
from tests.e2e.test_http_rejections import anthropic_entry, scrubbed_env

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
PROMPT = "list the json files please"
#: Exports every 50 ms instead of every 5 s, so a test waits for spans only briefly.
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "50"}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


def tracing_env(receiver: OtlpReceiver) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, **FAST_EXPORT}


def named(spans: list[ReceivedSpan], prefix: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def turn_complete(spans: list[ReceivedSpan]) -> bool:
    return bool(named(spans, "invoke_agent")) and len(named(spans, "chat ")) == 2


def script_tool_turn(fake: FakeUpstream) -> None:
    fake.enqueue(reply_tool_calls(("toolu_1", "glob", {"pattern": "*.json"})), reply_text("done"))


def assert_turn_tree(spans: list[ReceivedSpan], provider: str) -> ReceivedSpan:
    """One turn span in the caller's trace, two model calls and one tool call under it."""
    (turn,) = named(spans, "invoke_agent")
    assert (turn.trace_id, turn.parent_span_id) == (TRACE_ID, PARENT_ID)
    assert turn.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert turn.attributes["gen_ai.agent.name"] == "amplifier-agent"
    assert turn.attributes["gen_ai.provider.name"] == provider
    assert turn.attributes["gen_ai.usage.input_tokens"] == 20
    assert turn.attributes["gen_ai.usage.output_tokens"] == 10
    assert turn.resource["service.name"] == "amplifier-agent"

    calls = named(spans, "chat ")
    assert [c.name for c in calls] == [f"chat {ROOT_MODEL}"] * 2
    for call in calls:
        assert (call.trace_id, call.parent_span_id) == (TRACE_ID, turn.span_id)
        assert call.kind == 3  # SPAN_KIND_CLIENT
        assert call.attributes["gen_ai.operation.name"] == "chat"
        assert call.attributes["gen_ai.provider.name"] == provider
        assert call.attributes["gen_ai.request.model"] == ROOT_MODEL
        assert call.attributes["gen_ai.response.model"] == ROOT_MODEL
        assert call.attributes["gen_ai.usage.input_tokens"] == 10
        assert call.attributes["gen_ai.usage.output_tokens"] == 5
    assert calls[0].attributes["gen_ai.response.finish_reasons"] == ["tool_use"]
    assert calls[1].attributes["gen_ai.response.finish_reasons"] == ["end_turn"]

    (tool,) = named(spans, "execute_tool")
    assert tool.name == "execute_tool glob"
    assert (tool.trace_id, tool.parent_span_id) == (TRACE_ID, turn.span_id)
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "glob"
    assert tool.attributes["gen_ai.tool.call.id"] == "toolu_1"
    return turn


def test_http_turn_spans_continue_the_callers_trace(
    tmp_path: Path, upstream: FakeUpstream, receiver: OtlpReceiver
) -> None:
    upstream.reset()
    config = write_config(
        tmp_path / "host_config.json", {"providers": {"a": anthropic_entry(upstream.url)}}
    )
    env = scrubbed_env(tmp_path, {"ANTHROPIC_API_KEY": "sk-ant-test", **tracing_env(receiver)})
    script_tool_turn(upstream)
    with running_server(config, env, cwd=tmp_path) as server:
        response = httpx2.post(
            server.url + "/v1/chat/completions",
            json={"model": ROOT_MODEL, "messages": [{"role": "user", "content": PROMPT}]},
            headers={"authorization": f"Bearer {server.api_key}", "traceparent": TRACEPARENT},
            timeout=20,
        )
        assert response.status_code == 200 and "done" in response.text
        spans = receiver.wait_for(turn_complete)
    assert receiver.paths[0] == "/v1/traces"
    turn = assert_turn_tree(spans, "anthropic")
    assert turn.attributes["amplifier.face"] == "http"
    # Prompt and completion text stay off spans unless the user opts in.
    assert PROMPT not in json.dumps([s.attributes for s in spans])
    assert "gen_ai.input.messages" not in turn.attributes


def test_run_is_traced_under_the_environments_traceparent_with_content_opted_in(
    agent: AgentCli, receiver: OtlpReceiver
) -> None:
    script_tool_turn(agent.fake)
    config = agent.config_with_model()
    env = agent.env(
        TRACEPARENT=TRACEPARENT,
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true",
        **tracing_env(receiver),
    )
    result = agent.run("run", "-y", "--config", str(config), PROMPT, env=env)
    assert result.returncode == 0, result.stderr
    # `run` has exited: its spans were flushed on the way out, not left in a buffer.
    turn = assert_turn_tree(receiver.wait_for(turn_complete, timeout=1), "anthropic")
    assert turn.attributes["amplifier.face"] == "cli"
    assert json.loads(turn.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]}
    ]
    output = json.loads(turn.attributes["gen_ai.output.messages"])
    assert output[0]["parts"][0]["content"] == "done"


def test_serve_stdio_turns_are_traced_under_the_environments_traceparent(
    agent: AgentCli, receiver: OtlpReceiver
) -> None:
    script_tool_turn(agent.fake)
    env = agent.env(TRACEPARENT=TRACEPARENT, **tracing_env(receiver))
    host = StdioHost(agent, env=env)
    try:
        host.initialize("s-t")
        assert host.response(host.submit("s-t", "t1", PROMPT))["result"]["reply"] == "done"
        spans = receiver.wait_for(turn_complete)
        host.close_stdin()
        assert host.finish() == 0
    finally:
        host.kill()
    turn = assert_turn_tree(spans, "anthropic")
    assert turn.attributes["amplifier.face"] == "dispatch"
    assert turn.attributes["gen_ai.conversation.id"] == "s-t"
    assert PROMPT not in json.dumps([s.attributes for s in spans])
