"""Everything the HTTP face refuses, seen by a real HTTP client: model lookup (§5.4), upstream
failures before and after the commit (§8.6, §8.7), the request gate (§8.3) and body parsing
(§8.4). One server serves the whole module: two anthropic-module providers `a` and `b`, both
pointed at the same fake upstream, so every model id is served twice."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx2
import pytest

from testkit import Block, FakeUpstream, Reply, reply_text
from tests.e2e.server_harness import RunningServer, running_server, server_env, write_config

MODEL = "claude-sonnet-4-5-20250929"
DEAD = "dead-model"
USER_HI = [{"role": "user", "content": "hi"}]
ERROR_KEYS = {"message", "type", "code", "param"}


# -- helpers shared by the HTTP-face tests -------------------------------------------------------
def scrubbed_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A server environment with no provider or `AMPLIFIER_*` variable from the caller's shell
    (module-scoped fixtures run before the per-test scrub)."""
    env = {
        key: value
        for key, value in server_env(home).items()
        if not key.startswith("AMPLIFIER_") or key == "AMPLIFIER_AGENT_HOME"
    }
    env.update(extra or {})
    return env


def anthropic_entry(base_url: str, **config: Any) -> dict[str, Any]:
    return {"module": "anthropic", "config": {"base_url": base_url, **config}}


def wait_for(predicate: Callable[[], Any], *, timeout: float, message: str) -> Any:
    """The first truthy value of `predicate`, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout:g} s waiting for {message}")


def closed_port_url() -> str:
    """A loopback URL on a port that was free a moment ago (nothing listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def expected_type(status: int) -> str:
    if status in (429, 502, 504):
        return "upstream_error"
    return "invalid_request_error" if 400 <= status < 500 else "server_error"


def assert_error(
    response: httpx2.Response, status: int, code: str, param: str | None = None
) -> dict[str, Any]:
    """The response is `status` with exactly the OpenAI error body for `code`; returns it."""
    assert response.status_code == status, response.text
    assert response.headers.get("x-request-id")
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) == ERROR_KEYS, error
    assert (error["code"], error["type"], error["param"]) == (code, expected_type(status), param)
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


def chat_body(model: str = f"a/{MODEL}", **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": USER_HI, **fields}


def sse_data(text: str) -> list[str]:
    """The `data:` payloads of an SSE body, in order (comment frames skipped)."""
    return [frame[len("data: ") :] for frame in text.split("\n\n") if frame.startswith("data: ")]


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("rejections")
    # `dead` lists its model statically and points at a port nobody listens on.
    dead = {"module": "openai", "config": {"base_url": f"{closed_port_url()}/v1", "models": [DEAD]}}
    providers = {"a": anthropic_entry(upstream.url), "b": anthropic_entry(upstream.url)}
    config = write_config(root / "host_config.json", {"providers": {**providers, "dead": dead}})
    env = scrubbed_env(root, {"ANTHROPIC_API_KEY": "sk-ant-test", "OPENAI_API_KEY": "sk-test"})
    with running_server(config, env, cwd=root) as running:
        yield running


# -- model lookup -------------------------------------------------------------------------------
def test_unknown_model_is_400_naming_the_model(http: httpx2.Client, fake: FakeUpstream) -> None:
    response = http.post("/v1/chat/completions", json=chat_body("no-such-model"))
    error = assert_error(response, 400, "unknown_model", "model")
    assert "no-such-model" in error["message"] and "/v1/models" in error["message"]
    assert fake.model_requests() == []


def test_shared_id_is_listed_namespaced_and_a_bare_request_is_ambiguous(
    http: httpx2.Client, fake: FakeUpstream
) -> None:
    listed = {m["id"]: m["_provider"] for m in http.get("/v1/models").json()["data"]}
    assert listed[f"a/{MODEL}"] == "a" and listed[f"b/{MODEL}"] == "b"
    assert MODEL not in listed

    error = assert_error(
        http.post("/v1/chat/completions", json=chat_body(MODEL)), 400, "ambiguous_model", "model"
    )
    assert f"a/{MODEL}" in error["message"] and f"b/{MODEL}" in error["message"]
    assert fake.model_requests() == []

    fake.enqueue(reply_text("from a"))
    answer = http.post("/v1/chat/completions", json=chat_body(f"a/{MODEL}", stream=False))
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-amplifier-agent-provider"] == "a"
    assert answer.headers["x-request-id"]
    assert answer.json()["model"] == f"a/{MODEL}"
    assert answer.json()["choices"][0]["message"]["content"] == "from a"
    # The prefix is stripped before the id reaches the provider.
    assert fake.model_requests()[0].body["model"] == MODEL


# -- upstream failures --------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [True, False])
def test_upstream_401_before_content_is_a_502(
    http: httpx2.Client, fake: FakeUpstream, stream: bool
) -> None:
    fake.enqueue(Reply(error={"status": 401, "message": "invalid x-api-key"}))
    response = http.post("/v1/chat/completions", json=chat_body(stream=stream))
    error = assert_error(response, 502, "upstream_auth_error")
    assert "401" in error["message"] and "sk-ant-test" not in response.text


def test_an_unreachable_provider_is_a_502_upstream_unavailable(http: httpx2.Client) -> None:
    response = http.post("/v1/chat/completions", json=chat_body(DEAD))
    assert_error(response, 502, "upstream_unavailable")
    assert response.headers["x-amplifier-agent-provider"] == "dead"


def test_upstream_5xx_before_content_is_a_502_upstream_error(
    http: httpx2.Client, fake: FakeUpstream
) -> None:
    failing = {"status": 500, "message": "overloaded", "headers": {"retry-after-ms": "10"}}
    fake.enqueue(*(Reply(error=dict(failing)) for _ in range(3)))
    response = http.post("/v1/chat/completions", json=chat_body(stream=False))
    error = assert_error(response, 502, "upstream_error")
    assert "500" in error["message"]


def test_rate_limit_after_sdk_retries_is_a_429_with_retry_after(
    http: httpx2.Client, fake: FakeUpstream
) -> None:
    # retry-after-ms keeps the SDK's own waits short; retry-after is what reaches the client.
    limited = {"status": 429, "message": "slow down", "headers": {"retry-after": "7"}}
    limited["headers"]["retry-after-ms"] = "20"
    fake.enqueue(*(Reply(error=dict(limited)) for _ in range(3)))
    response = http.post("/v1/chat/completions", json=chat_body())
    assert_error(response, 429, "rate_limited")
    assert response.headers["retry-after"] == "7"
    assert len(fake.model_requests()) == 3


@pytest.mark.parametrize("stream", [True, False])
def test_rate_limit_without_an_upstream_wait_gets_the_default_retry_after(
    http: httpx2.Client, fake: FakeUpstream, stream: bool
) -> None:
    # `x-should-retry: false` stops the SDK's own retries, which would otherwise back off.
    limited = {"status": 429, "message": "slow down", "headers": {"x-should-retry": "false"}}
    fake.enqueue(Reply(error=limited))
    response = http.post("/v1/chat/completions", json=chat_body(stream=stream))
    assert_error(response, 429, "rate_limited")
    assert response.headers["retry-after"] == "5"
    assert len(fake.model_requests()) == 1


def test_stream_dying_after_first_content_is_reported_in_band(
    http: httpx2.Client, fake: FakeUpstream
) -> None:
    # Events: message_start, content_block_start, ping, delta "Hel", delta "lo", ...
    fake.enqueue(
        Reply(
            blocks=[Block(type="text", text="Hello", chunks=["Hel", "lo"])],
            usage={"input": 12, "output": 3},
            die_after_events=4,
        )
    )
    response = http.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["x-request-id"]
    payloads = sse_data(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    contents = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert contents[0] == "Hel"
    assert contents[-1].startswith("\n\n[amplifier-agent error: upstream_error: ")
    terminal = chunks[-1]
    assert terminal["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert terminal["error"]["code"] == "upstream_error" and terminal["error"]["message"]
    assert set(terminal["usage"]) >= {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert fake.model_requests()[0].outcome == "died"


# -- the gate -----------------------------------------------------------------------------------
def test_missing_and_wrong_bearer_get_the_two_exact_401_bodies(server: RunningServer) -> None:
    with httpx2.Client(base_url=server.url, timeout=10) as anonymous:
        cases = {
            "missing_api_key": {},
            "invalid_api_key": {"authorization": "Bearer not-the-key"},
        }
        messages = {}
        for code, headers in cases.items():
            response = anonymous.post("/v1/chat/completions", json=chat_body(), headers=headers)
            messages[code] = assert_error(response, 401, code)["message"]
            assert response.headers["www-authenticate"] == "Bearer"
        empty = anonymous.get("/v1/models", headers={"authorization": "Bearer"})
        assert_error(empty, 401, "missing_api_key")
        basic = anonymous.get("/v1/models", headers={"authorization": "Basic Zm9vOmJhcg=="})
        assert_error(basic, 401, "missing_api_key")
    assert messages == {
        "missing_api_key": "Missing or malformed Authorization header",
        "invalid_api_key": "Invalid API key",
    }


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b'{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":NaN}',
        b'{"model":"m","messages":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        b"\xef\xbb\xbf" + json.dumps(chat_body()).encode(),
    ],
    ids=["truncated", "empty", "nan", "deep", "bom"],
)
def test_unparsable_bodies_are_400_invalid_json(
    http: httpx2.Client, fake: FakeUpstream, body: bytes
) -> None:
    response = http.post(
        "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "invalid_json")
    assert fake.model_requests() == []


def test_body_over_16_mib_is_413(server: RunningServer) -> None:
    filler = "x" * (16 * 1024 * 1024)
    body = json.dumps(chat_body(padding=filler)).encode()
    response = _raw_post(server, body)
    assert response.startswith(b"HTTP/1.1 413 ")
    head, _, payload = response.partition(b"\r\n\r\n")
    assert b"x-request-id: " in head.lower()
    error = json.loads(payload)["error"]
    assert set(error) == ERROR_KEYS and error["code"] == "request_too_large"


def _raw_post(server: RunningServer, body: bytes) -> bytes:
    """POST over a raw socket, tolerating the server answering before the body is all sent."""
    host, port = server.url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {server.api_key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head)
        # The server may refuse mid-upload; its answer is waiting all the same.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(body)
        received = bytearray()
        while chunk := _recv(sock):
            received += chunk
    return bytes(received)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


def test_provider_parameters_in_the_body_are_forbidden(
    http: httpx2.Client, fake: FakeUpstream
) -> None:
    for name in ("api_base", "base_url", "api_key", "extra_headers"):
        response = http.post(
            "/v1/chat/completions", json=chat_body(**{name: "http://evil.example"})
        )
        assert_error(response, 400, "forbidden_parameter", name)
    assert fake.model_requests() == []


def test_routing_errors(http: httpx2.Client) -> None:
    wrong_method = http.get("/v1/chat/completions")
    assert_error(wrong_method, 405, "method_not_allowed")
    assert wrong_method.headers["allow"] == "POST"
    assert http.post("/v1/models").headers["allow"] == "GET"
    for path in ("/v1/nope", "/v1/models/", "/v1/chat/completions/", "/V1/models", "/docs"):
        assert_error(http.get(path), 404, "not_found")


def test_foreign_host_and_origin_are_refused_before_auth(server: RunningServer) -> None:
    with httpx2.Client(base_url=server.url, timeout=10) as anonymous:
        rebound = anonymous.get("/v1/models", headers={"host": "evil.example"})
        assert_error(rebound, 421, "invalid_host")
        foreign = anonymous.get("/v1/models", headers={"origin": "https://evil.example"})
        assert_error(foreign, 403, "forbidden_origin")
        assert "access-control-allow-origin" not in foreign.headers
        null_origin = anonymous.get("/healthz", headers={"origin": "null"})
        assert_error(null_origin, 403, "forbidden_origin")


def test_one_model_by_id_and_ignored_parameters(http: httpx2.Client, fake: FakeUpstream) -> None:
    one = http.get(f"/v1/models/a/{MODEL}")
    assert one.status_code == 200 and one.json()["id"] == f"a/{MODEL}"
    assert one.json()["_provider"] == "a"
    assert_error(http.get(f"/v1/models/{MODEL}"), 404, "model_not_found")
    fake.enqueue(reply_text("ok"))
    answer = http.post(
        "/v1/chat/completions",
        json=chat_body(stream=False, user="u1", metadata={"k": "v"}, logit_bias={}, seed=1),
    )
    assert answer.status_code == 200
    assert answer.headers["x-amplifier-agent-ignored-params"] == "logit_bias,seed"
    assert "logit_bias" not in fake.model_requests()[0].body


def test_healthz_needs_no_key_and_every_response_has_a_request_id(
    server: RunningServer,
) -> None:
    with httpx2.Client(base_url=server.url, timeout=10) as anonymous:
        health = anonymous.get("/healthz")
        assert (health.status_code, health.text) == (200, "ok")
        assert health.headers["content-type"].startswith("text/plain")
        assert health.headers["x-request-id"].startswith("req_")
        echoed = anonymous.get("/healthz", headers={"x-request-id": "client.id-42"})
        assert echoed.headers["x-request-id"] == "client.id-42"
        unsafe = anonymous.get("/healthz", headers={"x-request-id": "bad id/with spaces"})
        assert unsafe.headers["x-request-id"] != "bad id/with spaces"
        assert unsafe.headers["x-request-id"].startswith("req_")


def test_checks_run_in_the_spec_order(http: httpx2.Client, fake: FakeUpstream) -> None:
    """Media type, then JSON, then schema, then the model, then the session header."""
    bad_session = {"x-client-session-id": "../escape"}
    wrong_type = http.post(
        "/v1/chat/completions",
        content=b"{not json",
        headers={"content-type": "text/plain", **bad_session},
    )
    assert_error(wrong_type, 415, "unsupported_media_type")
    not_json = http.post(
        "/v1/chat/completions",
        content=b"{not json",
        headers={"content-type": "application/json", **bad_session},
    )
    assert_error(not_json, 400, "invalid_json")
    no_messages = http.post(
        "/v1/chat/completions", json={"model": "no-such-model"}, headers=bad_session
    )
    assert_error(no_messages, 400, "missing_required_parameter", "messages")
    ends_with_answer = http.post(
        "/v1/chat/completions",
        json={
            "model": "no-such-model",
            "messages": [*USER_HI, {"role": "assistant", "content": "x"}],
        },
        headers=bad_session,
    )
    assert_error(ends_with_answer, 400, "invalid_value", "messages[1]")
    unknown = http.post(
        "/v1/chat/completions", json=chat_body("no-such-model"), headers=bad_session
    )
    assert_error(unknown, 400, "unknown_model", "model")
    served = http.post("/v1/chat/completions", json=chat_body(), headers=bad_session)
    assert_error(served, 400, "invalid_session_id")
    assert fake.model_requests() == []
