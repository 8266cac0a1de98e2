"""Graceful shutdown of the HTTP face (SPEC §8.10): on SIGTERM a stream that finishes inside the
drain window completes, one that does not ends in-band with `server_shutting_down`, new work on
a kept-alive connection gets 503, both turns are persisted, and the process exits 0 after
removing `serve.json`."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx2

from testkit import Block, FakeUpstream, Reply
from tests.e2e.server_harness import RunningServer, running_server, write_config
from tests.e2e.test_http_rejections import anthropic_entry, assert_error, scrubbed_env, wait_for
from tests.e2e.test_http_streaming import KEEPALIVE, Stream, content_of, open_stream

SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
WORKSPACE = "shutdown"
DRAIN_S = 1.5


def words(count: int) -> list[str]:
    return [f"w{i} " for i in range(count)]


def read_to_done(stream: Stream) -> list[dict[str, Any]]:
    """Every data chunk of the response (those already read included) up to `[DONE]`."""
    while stream.next().text != "data: [DONE]":
        pass
    return [f.chunk for f in stream.seen[:-1] if f.text != KEEPALIVE]


def texts(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


def test_sigterm_drains_finishes_what_it_can_and_cuts_the_rest(
    tmp_path: Path, fake_upstream: FakeUpstream
) -> None:
    quick, slow = words(10), words(40)
    fake_upstream.enqueue(
        Reply(
            blocks=[Block(type="text", text="".join(quick), chunks=quick)],
            delay_s=0.08,
            for_model=SONNET,
        ),
        Reply(
            blocks=[Block(type="text", text="".join(slow), chunks=slow)],
            delay_s=0.25,
            for_model=HAIKU,
        ),
    )
    config = write_config(
        tmp_path / "host_config.json",
        {"providers": {"anthropic": anthropic_entry(fake_upstream.url)}},
    )
    env = scrubbed_env(
        tmp_path,
        {"ANTHROPIC_API_KEY": "sk-ant-test", "AMPLIFIER_AGENT_HTTP_DRAIN_TIMEOUT_S": "1.5"},
    )
    state = tmp_path / "state-root" / "state"
    with running_server(config, env, cwd=tmp_path, args=("--workspace", WORKSPACE)) as server:
        assert (state / "serve.json").exists()
        quick_chunks, slow_chunks, returncode = _terminate_mid_streams(server)
        assert returncode == 0, server.stderr_text()
    assert not (state / "serve.json").exists()

    assert texts(quick_chunks) == "".join(quick)
    assert quick_chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert "error" not in quick_chunks[-1]

    cut = texts(slow_chunks)
    assert cut.startswith("w0 ") and "w39" not in cut
    assert "\n\n[amplifier-agent error: server_shutting_down: " in cut
    assert slow_chunks[-1]["error"]["code"] == "server_shutting_down"
    assert "usage" in slow_chunks[-1]

    sessions = state / "workspaces" / WORKSPACE / "sessions"
    quick_turn = _transcript(sessions / "http-quick")
    assert quick_turn[-1]["content"] == "".join(quick) and "interrupted" not in quick_turn[-1]
    slow_turn = _transcript(sessions / "http-slow")
    assert slow_turn[-1]["interrupted"] is True and slow_turn[-1]["content"].startswith("w0 ")
    statuses = {
        line["sessionId"]: line["status"]
        for line in map(json.loads, (state / "usage.jsonl").read_text().splitlines())
    }
    assert statuses == {"http-quick": "completed", "http-slow": "shutdown"}
    expected = {SONNET: "complete", HAIKU: "client_closed"}
    wait_for(
        lambda: {r.body["model"]: r.outcome for r in fake_upstream.model_requests()} == expected,
        timeout=2,
        message="the cut upstream call to be closed",
    )


def _terminate_mid_streams(
    server: RunningServer,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    headers = {"authorization": f"Bearer {server.api_key}"}
    with (
        httpx2.Client(base_url=server.url, headers=headers, timeout=20) as client,
        httpx2.Client(base_url=server.url, headers=headers, timeout=20) as other,
        httpx2.Client(base_url=server.url, headers=headers, timeout=20) as idle,
    ):
        assert idle.get("/v1/models").status_code == 200  # a kept-alive connection
        quick, quick_ctx = open_stream(client, SONNET, {"x-client-session-id": "quick"})
        slow, slow_ctx = open_stream(other, HAIKU, {"x-client-session-id": "slow"})
        try:
            for stream in (quick, slow):
                stream.until(lambda f: content_of(f) is not None)
            server.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            _expect_503_on_kept_alive_connection(idle)
            quick_chunks, slow_chunks = read_to_done(quick), read_to_done(slow)
            assert DRAIN_S - 0.5 < time.monotonic() - signalled < DRAIN_S + 2
        finally:
            quick_ctx.__exit__(None, None, None)
            slow_ctx.__exit__(None, None, None)
    code = server.process.wait(timeout=15)
    return quick_chunks, slow_chunks, code


def _expect_503_on_kept_alive_connection(idle: httpx2.Client) -> None:
    """Until the drain starts, a chat request for an unknown model is a plain 400."""
    body = {"model": "not-served", "messages": [{"role": "user", "content": "x"}]}
    response = wait_for(
        lambda: (r := idle.post("/v1/chat/completions", json=body)).status_code == 503 and r,
        timeout=1.0,
        message="503 during the drain",
    )
    assert_error(response, 503, "server_shutting_down")


def _transcript(session_dir: Path) -> list[dict[str, Any]]:
    lines = (session_dir / "transcript.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]
