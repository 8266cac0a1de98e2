"""The fake OpenAI Chat Completions wire on its own: chunk order and shapes as the API sends."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from testkit import Block, FakeUpstream, Reply, openai_wire, reply_text, reply_tool_calls


def decode(events: list[bytes]) -> list[Any]:
    """The JSON of each `data:` event; the final `[DONE]` is returned as the string."""
    decoded: list[Any] = []
    for raw in events:
        text = raw.decode()
        assert text.startswith("data: ") and text.endswith("\n\n"), "one SSE event per element"
        payload = text.removeprefix("data: ").removesuffix("\n\n")
        decoded.append(payload if payload == "[DONE]" else json.loads(payload))
    return decoded


def test_a_text_stream_is_role_deltas_finish_usage_done() -> None:
    reply = Reply(
        blocks=[Block(type="text", chunks=["Hel", "lo"])],
        usage={"input": 12, "output": 7, "cache_read": 3, "cache_write": 4},
    )

    chunks = decode(openai_wire.stream_events(reply, "gpt-x"))

    assert chunks[-1] == "[DONE]"
    data = chunks[:-1]
    assert len({c["id"] for c in data}) == 1 and data[0]["id"].startswith("chatcmpl-")
    for c in data:
        assert c["object"] == "chat.completion.chunk"
        assert c["model"] == "gpt-x"
        assert isinstance(c["created"], int)
    assert data[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c["choices"][0]["delta"]["content"] for c in data[1:3]] == ["Hel", "lo"]
    assert data[3]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in data[:3])
    assert data[4]["choices"] == []
    assert data[4]["usage"] == {
        "prompt_tokens": 19,
        "completion_tokens": 7,
        "total_tokens": 26,
        "prompt_tokens_details": {"cached_tokens": 3},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def test_reasoning_streams_as_reasoning_content() -> None:
    reply = Reply(blocks=[Block(type="thinking", chunks=["a", "b"]), Block(type="text", text="c")])

    chunks = decode(openai_wire.stream_events(reply, "m"))

    deltas = [c["choices"][0]["delta"] for c in chunks[1:4]]
    assert deltas == [{"reasoning_content": "a"}, {"reasoning_content": "b"}, {"content": "c"}]


def test_tool_calls_stream_by_index_with_the_arguments_in_pieces() -> None:
    reply = reply_tool_calls(("call_a", "f", {"x": 1, "y": "two"}), ("call_b", "g", {}))

    chunks = decode(openai_wire.stream_events(reply, "m"))

    parts = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[1:-3]]
    first = [p for p in parts if p["index"] == 0]
    assert first[0] == {
        "index": 0,
        "id": "call_a",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    assert len(first) > 2, "arguments arrive as several partial strings"
    assert json.loads("".join(p["function"]["arguments"] for p in first)) == {"x": 1, "y": "two"}
    assert [p["index"] for p in parts] == sorted(p["index"] for p in parts)
    assert next(p for p in parts if p["index"] == 1)["id"] == "call_b"
    assert chunks[-3]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("stop", "finish"),
    [("end_turn", "stop"), ("tool_use", "tool_calls"), ("max_tokens", "length")],
)
def test_neutral_stop_reasons_become_finish_reasons(stop: str, finish: str) -> None:
    body = openai_wire.json_body(reply_text("x", stop_reason=stop), "m")

    assert body["choices"][0]["finish_reason"] == finish


def test_the_whole_body_is_a_chat_completion() -> None:
    reply = reply_tool_calls(("c1", "f", {"a": 1}), usage={"input": 5, "output": 2})

    body = openai_wire.json_body(reply, "gpt-x")

    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-x"
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant"
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    ]
    assert body["usage"]["prompt_tokens"] == 5


def test_error_and_models_bodies_have_the_openai_shape() -> None:
    error = openai_wire.error_body(429, "slow down", None)
    assert error == {
        "error": {
            "message": "slow down",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert openai_wire.error_body(500, "boom", "custom")["error"]["type"] == "custom"

    models = openai_wire.models_body([{"id": "m1", "created": 7}])
    assert models == {
        "object": "list",
        "data": [{"id": "m1", "object": "model", "created": 7, "owned_by": "openai"}],
    }


# -- the official SDK accepts what the fake serves -----------------------------------------------


async def test_the_sdk_stream_helper_assembles_the_fake_stream(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.enqueue(reply_tool_calls(("c1", "f", {"a": 1}), text="hi"))
    client = openai.AsyncOpenAI(api_key="k", base_url=f"{fake_upstream.url}/v1")

    async with client.chat.completions.stream(
        model="gpt-5", messages=[{"role": "user", "content": "x"}]
    ) as stream:
        final = await stream.get_final_completion()
    await client.close()

    message = final.choices[0].message
    assert message.content == "hi"
    assert message.tool_calls is not None
    assert message.tool_calls[0].function.arguments == '{"a":1}'


async def test_the_sdk_parses_the_whole_body(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(reply_text("whole", usage={"input": 3, "output": 1, "cache_read": 2}))
    client = openai.AsyncOpenAI(api_key="k", base_url=f"{fake_upstream.url}/v1")

    completion = await client.chat.completions.create(
        model="gpt-5", messages=[{"role": "user", "content": "x"}]
    )
    await client.close()

    assert completion.choices[0].message.content == "whole"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 5
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 2
