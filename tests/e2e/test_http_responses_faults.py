"""The Responses face's rejections, in-band failures and disconnects, with a raw HTTP client:
every bad input is an OpenAI-shaped 4xx (never a 500), a failure after the commit ends the
stream with `response.failed`, and a client leaving cancels the turn within a second."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from testkit import Block, FakeUpstream, Reply, reply_text
from tests.e2e.server_harness import RunningServer, running_server, write_config
from tests.e2e.test_http_rejections import anthropic_entry, assert_error, scrubbed_env, wait_for

MODEL = "claude-sonnet-4-5-20250929"
WORKSPACE = "responses-faults"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("responses-faults")
    config = write_config(
        root / "host_config.json", {"providers": {"a": anthropic_entry(upstream.url)}}
    )
    env = scrubbed_env(root, {"ANTHROPIC_API_KEY": "sk-ant-test"})
    with running_server(config, env, cwd=root, args=("--workspace", WORKSPACE)) as running:
        running.state_root = root / "state-root"  # type: ignore[attr-defined]
        yield running


def body(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "input": "hi", **fields}


def events_of(text: str) -> list[dict[str, Any]]:
    """The JSON payloads of an SSE body; each frame's `event:` line must name its `type`."""
    events = []
    for frame in text.split("\n\n"):
        lines = frame.splitlines()
        if not lines or lines[0].startswith(":"):
            continue
        name, data = lines[0], lines[1]
        payload = json.loads(data[len("data: ") :])
        assert name == f"event: {payload['type']}"
        events.append(payload)
    return events


@pytest.mark.parametrize(
    ("document", "code", "param"),
    [
        ({"input": "hi"}, "missing_required_parameter", "model"),
        (body(input=[]), "invalid_value", "input"),
        (
            body(input=[{"type": "message", "role": "robot", "content": "x"}]),
            "invalid_value",
            "input[0].role",
        ),
        (
            body(input=[{"type": "message", "role": "user", "content": 3}]),
            "invalid_type",
            "input[0].content",
        ),
        (
            body(input=[{"type": "message", "role": "user", "content": [{"type": "input_text"}]}]),
            "missing_required_parameter",
            "input[0].content[0].text",
        ),
        (
            body(input=[{"type": "function_call", "call_id": "c", "name": "f"}]),
            "missing_required_parameter",
            "input[0].arguments",
        ),
        (body(input=[{"type": "reasoning", "summary": "x"}]), "invalid_type", "input[0].summary"),
        (body(input=[{"type": "web_search_call"}]), "invalid_value", "input[0].type"),
        (body(input=[{"role": "assistant", "content": "done"}]), "invalid_value", "input"),
        (body(input=[{"role": "developer", "content": "only rules"}]), "invalid_value", "input"),
        (body(tools=[{"type": "function", "name": "bad name!"}]), "invalid_value", "tools[0].name"),
        (
            body(tools=[{"type": "function", "name": "f"}, {"type": "function", "name": "f"}]),
            "invalid_value",
            "tools[1].name",
        ),
        (body(tool_choice={"type": "function"}), "missing_required_parameter", "tool_choice.name"),
        (body(temperature=3), "invalid_value", "temperature"),
        (body(max_output_tokens=0), "invalid_value", "max_output_tokens"),
        (body(stream="yes"), "invalid_type", "stream"),
        (body(metadata={"k": 1}), "invalid_type", "metadata.k"),
        (body(api_key="sk-x"), "forbidden_parameter", "api_key"),
        (body(background=True), "unsupported_parameter", "background"),
        (
            body(previous_response_id="resp_" + "a" * 32),
            "response_not_found",
            "previous_response_id",
        ),
        (body(model="no-such-model"), "unknown_model", "model"),
    ],
)
def test_bad_requests_are_openai_shaped_400s(
    http: httpx2.Client, document: dict[str, Any], code: str, param: str
) -> None:
    assert_error(http.post("/v1/responses", json=document), 400, code, param)


def test_bad_json_oversized_method_media_and_unknown_id(http: httpx2.Client) -> None:
    assert_error(http.post("/v1/responses", content=b"{nope"), 400, "invalid_json")
    assert_error(http.post("/v1/responses", content=b"[]"), 400, "invalid_request")
    big = b'{"model":"x","input":"' + b"a" * (16 * 1024 * 1024) + b'"}'
    assert_error(http.post("/v1/responses", content=big), 413, "request_too_large")
    assert_error(http.get("/v1/responses"), 405, "method_not_allowed")
    text_plain = {"content-type": "text/plain"}
    response = http.post("/v1/responses", content=b"{}", headers=text_plain)
    assert_error(response, 415, "unsupported_media_type")
    assert_error(http.get("/v1/responses/resp_unknown"), 404, "response_not_found")
    assert_error(http.get("/v1/responses/resp_x%2F..%2Fy"), 404, "response_not_found")


def test_junk_never_gets_a_500(http: httpx2.Client) -> None:
    junk: list[Any] = [
        None,
        1,
        "s",
        [1],
        {"input": None},
        body(input=[None]),
        body(input=[[]]),
        body(input=[{"role": "user"}]),
        body(input=[{"type": 5}]),
        body(tools=[5]),
        body(tools=[{"type": "function"}]),
        body(tools={"a": 1}),
        body(tool_choice=[]),
        body(include="x"),
        body(client_metadata=5),
        body(client_metadata={"session_id": 5}),
        body(instructions=7),
        body(store="no"),
        body(
            input=[
                {
                    "type": "function_call_output",
                    "call_id": "c",
                    "output": [{"type": "input_image"}],
                },
                {"type": "message", "role": "assistant", "content": "done"},
            ]
        ),
        body(input=[{"type": "message", "role": "developer", "content": "x"}]),
    ]
    for document in junk:
        response = http.post("/v1/responses", content=json.dumps(document).encode())
        assert 400 <= response.status_code < 500, (document, response.text)
        assert set(response.json()["error"]) == {"message", "type", "code", "param"}


def test_unserved_tool_types_and_params_are_listed_in_headers(
    http: httpx2.Client, fake: FakeUpstream
) -> None:
    fake.enqueue(reply_text("ok"))
    tools = [
        {"type": "web_search"},
        {"type": "namespace", "name": "ns"},
        {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
    ]
    document = body(tools=tools, reasoning={"summary": "auto"}, text={"verbosity": "low"})
    response = http.post("/v1/responses", json=document)
    assert response.status_code == 200, response.text
    assert response.headers["x-amplifier-agent-ignored-tools"] == "web_search,namespace"
    assert response.headers["x-amplifier-agent-ignored-params"] == "reasoning,text"
    sent = fake.model_requests()[0].body
    assert [tool["name"] for tool in sent["tools"]][-1] == "exec_command"


def test_failure_after_the_commit_ends_the_stream_with_response_failed(
    http: httpx2.Client, fake: FakeUpstream
) -> None:
    fake.enqueue(
        Reply(
            blocks=[Block(type="text", text="Hello", chunks=["Hel", "lo"])],
            usage={"input": 12, "output": 3},
            die_after_events=4,
        )
    )
    response = http.post("/v1/responses", json=body(stream=True))
    assert response.status_code == 200
    events = events_of(response.text)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.failed"
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "server_error"
    assert failed["error"]["message"].startswith("upstream_error: ")
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert deltas[0] == "Hel"


def test_failure_before_anything_visible_is_a_plain_http_error(
    http: httpx2.Client, fake: FakeUpstream
) -> None:
    failing = {"status": 500, "message": "overloaded", "headers": {"retry-after-ms": "10"}}
    fake.enqueue(*(Reply(error=dict(failing)) for _ in range(3)))
    response = http.post("/v1/responses", json=body(stream=True))
    assert_error(response, 502, "upstream_error")


def test_client_leaving_a_stream_cancels_the_turn_within_a_second(
    server: RunningServer, http: httpx2.Client, fake: FakeUpstream
) -> None:
    words = [f"w{i} " for i in range(20)]
    fake.enqueue(Reply(blocks=[Block(type="text", text="".join(words), chunks=words)], delay_s=0.2))
    document = body(stream=True, store=False, prompt_cache_key="leaving-1")
    with http.stream("POST", "/v1/responses", json=document) as response:
        raw = response.iter_raw()
        seen = b""
        while b"response.output_text.delta" not in seen:
            seen += next(raw)
    closed_at = time.monotonic()
    call = wait_for(
        lambda: next((r for r in fake.model_requests() if r.outcome != "pending"), None),
        timeout=5,
        message="the upstream call to end",
    )
    assert call.outcome == "client_closed"
    assert call.ended_at is not None and call.ended_at - closed_at < 1.0
    ledger = server.state_root / "state" / "usage.jsonl"  # type: ignore[attr-defined]
    line = wait_for(
        lambda: (
            ledger.exists()
            and next(
                (json.loads(t) for t in ledger.read_text().splitlines() if '"http-leaving-1"' in t),
                None,
            )
        ),
        timeout=5,
        message="ledger",
    )
    assert line["status"] == "client_disconnected"


def test_stateless_requests_are_reconciled_in_the_session_header_s_session(
    server: RunningServer, http: httpx2.Client, fake: FakeUpstream
) -> None:
    fake.enqueue(reply_text("first answer"), reply_text("second answer"))
    headers = {"x-client-session-id": "header-session-1"}
    first = [{"role": "user", "content": "one"}]
    reply = http.post("/v1/responses", json=body(input=first, store=False), headers=headers)
    assert reply.status_code == 200, reply.text
    follow_up = [*first, *reply.json()["output"], {"role": "user", "content": "two"}]
    again = http.post("/v1/responses", json=body(input=follow_up, store=False), headers=headers)
    assert again.json()["output"][0]["content"][0]["text"] == "second answer"
    root = server.state_root  # type: ignore[attr-defined]
    session = root / "state" / "workspaces" / WORKSPACE / "sessions" / "http-header-session-1"
    lines = (session / "transcript.jsonl").read_text().splitlines()
    transcript = [json.loads(line) for line in lines]
    assert [m["role"] for m in transcript] == ["user", "assistant", "user", "assistant"]
    # `store: false` keeps no response object: only the session's transcript.
    assert http.get(f"/v1/responses/{again.json()['id']}").status_code == 404
