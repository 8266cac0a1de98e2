"""Streams that go quiet or lose their client (SPEC §8.6, §8.9, §8.10): keepalive comments and
the commit they force, the stall watchdog before and after the commit, and a client closing
mid-stream. One server for the module: provider `ok` (default stall timeout), provider `slow`
(`stall_timeout_s: 2`, below the 3 s keepalive) and provider `patient` (`stall_timeout_s: 4`,
above it), all anthropic-module entries on the same fake upstream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from testkit import Block, FakeUpstream, Reply
from tests.e2e.server_harness import RunningServer, running_server, write_config
from tests.e2e.test_http_rejections import anthropic_entry, assert_error, scrubbed_env, wait_for

SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
WORKSPACE = "streams"
KEEPALIVE = ": keepalive"


@dataclass
class Frame:
    text: str
    at: float

    @property
    def chunk(self) -> dict[str, Any]:
        assert self.text.startswith("data: {"), self.text
        return dict(json.loads(self.text[len("data: ") :]))


@dataclass
class Stream:
    """One SSE response read frame by frame; `started` is when the request was sent."""

    response: httpx2.Response
    started: float
    _buffer: bytes = b""
    _raw: Iterator[bytes] | None = None
    seen: list[Frame] = field(default_factory=list)

    def next(self) -> Frame:
        if self._raw is None:
            self._raw = self.response.iter_raw()
        while b"\n\n" not in self._buffer:
            self._buffer += next(self._raw)
        raw, self._buffer = self._buffer.split(b"\n\n", 1)
        frame = Frame(raw.decode(), time.monotonic())
        self.seen.append(frame)
        return frame

    def until(self, predicate: Any) -> Frame:
        while not predicate(frame := self.next()):
            pass
        return frame


def open_stream(
    client: httpx2.Client, model: str, headers: dict[str, str] | None = None
) -> tuple[Stream, Any]:
    """Start a streamed chat request; returns the stream and the context to exit (closing it)."""
    body = {"model": model, "messages": [{"role": "user", "content": "go"}]}
    started = time.monotonic()
    context = client.stream("POST", "/v1/chat/completions", json=body, headers=headers)
    response = context.__enter__()
    return Stream(response, started), context


def content_of(frame: Frame) -> str | None:
    if not frame.text.startswith("data: {"):
        return None
    content = frame.chunk["choices"][0]["delta"].get("content")
    return str(content) if content else None


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("streams")
    providers = {
        "ok": anthropic_entry(upstream.url),
        "slow": anthropic_entry(upstream.url, stall_timeout_s=2),
        "patient": anthropic_entry(upstream.url, stall_timeout_s=4),
    }
    config = write_config(root / "host_config.json", {"providers": providers})
    env = scrubbed_env(root, {"ANTHROPIC_API_KEY": "sk-ant-test"})
    args = ("--workspace", WORKSPACE)
    with running_server(config, env, cwd=root, args=args) as running:
        running.state_root = root / "state-root"  # type: ignore[attr-defined]
        yield running


def client_for(server: RunningServer) -> httpx2.Client:
    headers = {"authorization": f"Bearer {server.api_key}"}
    return httpx2.Client(base_url=server.url, headers=headers, timeout=20)


def test_keepalive_frames_during_silence_and_as_the_commit(
    server: RunningServer, fake: FakeUpstream
) -> None:
    chunks = ["first", " second"]
    # Anthropic events: message_start, content_block_start, ping, delta "first", ...
    fake.enqueue(
        Reply(
            blocks=[Block(type="text", text="".join(chunks), chunks=chunks)],
            stall_after_events=4,
            stall_s=7,
            for_model=SONNET,
        ),
        Reply(
            blocks=[Block(type="text", text="late")],
            stall_after_events=1,
            stall_s=7,
            for_model=HAIKU,
        ),
    )
    with ThreadPoolExecutor(2) as pool:
        talking = pool.submit(_keepalives_after_content, server)
        silent = pool.submit(_keepalive_commits_a_silent_turn, server)
        talking.result(timeout=20)
        silent.result(timeout=20)


def _keepalives_after_content(server: RunningServer) -> None:
    with client_for(server) as client:
        stream, context = open_stream(client, f"ok/{SONNET}")
        try:
            assert stream.response.status_code == 200
            role = stream.next()
            assert role.chunk["choices"][0]["delta"] == {"role": "assistant", "content": ""}
            first = stream.next()
            assert content_of(first) == "first"
            keepalives = [stream.next(), stream.next()]
        finally:
            context.__exit__(None, None, None)
    assert [k.text for k in keepalives] == [KEEPALIVE, KEEPALIVE]
    gaps = [keepalives[0].at - first.at, keepalives[1].at - keepalives[0].at]
    assert all(2.5 < gap < 4.5 for gap in gaps), gaps


def _keepalive_commits_a_silent_turn(server: RunningServer) -> None:
    with client_for(server) as client:
        stream, context = open_stream(client, f"ok/{HAIKU}")
        try:
            headers_at = time.monotonic()
            assert stream.response.status_code == 200
            role, keepalive = stream.next(), stream.next()
        finally:
            context.__exit__(None, None, None)
    # The status line itself waited for the commit: nothing was client-visible before.
    assert 2.5 < headers_at - stream.started < 4.5
    assert role.chunk["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert keepalive.text == KEEPALIVE


def test_stall_watchdog_before_and_after_the_commit(
    server: RunningServer, fake: FakeUpstream
) -> None:
    fake.enqueue(
        Reply(
            blocks=[Block(type="text", text="never")],
            stall_after_events=1,
            stall_s=6,
            for_model=SONNET,
        ),
        Reply(
            blocks=[Block(type="text", text="partial answer", chunks=["partial", " answer"])],
            stall_after_events=4,
            stall_s=6,
            for_model=HAIKU,
        ),
    )
    with ThreadPoolExecutor(2) as pool:
        before = pool.submit(_stall_before_commit, server)
        after = pool.submit(_stall_after_commit, server)
        before.result(timeout=20)
        after.result(timeout=20)
    # The watchdog closed both upstream connections.
    wait_for(
        lambda: {r.outcome for r in fake.model_requests()} == {"client_closed"},
        timeout=2,
        message="both upstream calls to be closed",
    )
    assert {r.body["model"] for r in fake.model_requests()} == {SONNET, HAIKU}


def _stall_before_commit(server: RunningServer) -> None:
    started = time.monotonic()
    with client_for(server) as client:
        body = {"model": f"slow/{SONNET}", "messages": [{"role": "user", "content": "go"}]}
        response = client.post("/v1/chat/completions", json=body)
    assert_error(response, 504, "upstream_timeout")
    assert 1.5 < time.monotonic() - started < 3.5


def _stall_after_commit(server: RunningServer) -> None:
    with client_for(server) as client:
        stream, context = open_stream(client, f"slow/{HAIKU}")
        try:
            frames = [stream.next()]
            while frames[-1].text != "data: [DONE]":
                frames.append(stream.next())
        finally:
            context.__exit__(None, None, None)
    chunks = [f.chunk for f in frames[:-1] if f.text != KEEPALIVE]
    texts = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert texts[0] == "partial"
    assert texts[-1].startswith("\n\n[amplifier-agent error: upstream_timeout: ")
    assert chunks[-1]["error"]["code"] == "upstream_timeout"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    stalled_for = frames[-1].at - frames[1].at
    assert 1.5 < stalled_for < 3.5, stalled_for


def test_the_first_keepalive_commits_the_status(server: RunningServer, fake: FakeUpstream) -> None:
    """Failures before the first byte are HTTP statuses (the 504 above, the 429 in
    test_http_rejections); the same failures after a keepalive are a 200 with the error in-band."""
    slow = {"status": 429, "message": "slow", "headers": {"retry-after-ms": "3500"}}
    final = {"status": 429, "message": "still", "headers": {"x-should-retry": "false"}}
    fake.enqueue(
        # The SDK waits the 3.5 s it is told before retrying: the keepalive goes out meanwhile.
        Reply(error=slow, for_model=SONNET),
        Reply(error=final, for_model=SONNET),
        Reply(
            blocks=[Block(type="text", text="never")],
            stall_after_events=1,
            stall_s=6,
            for_model=HAIKU,
        ),
    )
    with ThreadPoolExecutor(2) as pool:
        limited = pool.submit(_failure_after_keepalive, server, f"ok/{SONNET}")
        stalled = pool.submit(_failure_after_keepalive, server, f"patient/{HAIKU}")
        assert limited.result(timeout=20) == "rate_limited"
        assert stalled.result(timeout=20) == "upstream_timeout"


def _failure_after_keepalive(server: RunningServer, model: str) -> str:
    """Streams `model` to the end; returns the in-band error code after checking the frames."""
    with client_for(server) as client:
        stream, context = open_stream(client, model)
        try:
            assert stream.response.status_code == 200
            frames = [stream.next()]
            while frames[-1].text != "data: [DONE]":
                frames.append(stream.next())
        finally:
            context.__exit__(None, None, None)
    texts = [f.text for f in frames]
    assert texts[1] == KEEPALIVE, texts
    role, note, terminal = (f.chunk for f in frames if f.text.startswith("data: {"))
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    code = str(terminal["error"]["code"])
    assert note["choices"][0]["delta"]["content"].startswith(
        f"\n\n[amplifier-agent error: {code}: "
    )
    assert terminal["choices"][0]["finish_reason"] == "stop"
    return code


def test_client_closing_mid_stream_cancels_the_upstream_call_and_is_persisted(
    server: RunningServer, fake: FakeUpstream
) -> None:
    words = [f"w{i} " for i in range(20)]
    fake.enqueue(
        Reply(
            blocks=[Block(type="text", text="".join(words), chunks=words)],
            usage={"input": 30, "output": 20},
            delay_s=0.2,
        )
    )
    session = "disconnect-1"
    with client_for(server) as client:
        stream, context = open_stream(
            client, f"ok/{SONNET}", headers={"x-client-session-id": session}
        )
        try:
            stream.until(lambda f: content_of(f) is not None)
            stream.until(lambda f: content_of(f) is not None)
        finally:
            context.__exit__(None, None, None)
    closed_at = time.monotonic()
    call = wait_for(
        lambda: next((r for r in fake.model_requests() if r.outcome != "pending"), None),
        timeout=5,
        message="the upstream call to end",
    )
    assert call.outcome == "client_closed"
    assert call.ended_at is not None and call.ended_at - closed_at < 1.0

    root: Path = server.state_root  # type: ignore[attr-defined]
    session_dir = root / "state" / "workspaces" / WORKSPACE / "sessions" / f"http-{session}"
    ledger = root / "state" / "usage.jsonl"
    line = wait_for(lambda: _ledger_line(ledger, f"http-{session}"), timeout=5, message="ledger")
    assert line["status"] == "client_disconnected" and line["face"] == "http"
    # The upstream call never reported usage, but it was billed: an estimate is recorded.
    assert line["usage_estimated"] is True
    assert line["prompt_tokens"] > 0 and line["completion_tokens"] > 0
    transcript = [
        json.loads(t) for t in (session_dir / "transcript.jsonl").read_text().splitlines()
    ]
    assert [m["role"] for m in transcript] == ["user", "assistant"]
    assert transcript[1]["interrupted"] is True
    assert transcript[1]["content"].startswith("w0 w1 ")
    assert transcript[1]["content"] != "".join(words)
    metadata = json.loads((session_dir / "metadata.json").read_text())
    assert metadata["last_turn"] == "client_disconnected"


def _ledger_line(ledger: Path, session_id: str) -> dict[str, Any] | None:
    if not ledger.exists():
        return None
    lines = [json.loads(t) for t in ledger.read_text().splitlines() if t.strip()]
    return next((line for line in lines if line["sessionId"] == session_id), None)


def test_client_leaving_a_buffered_request_cancels_it_too(
    server: RunningServer, fake: FakeUpstream
) -> None:
    words = [f"w{i} " for i in range(20)]
    fake.enqueue(Reply(blocks=[Block(type="text", text="".join(words), chunks=words)], delay_s=0.2))
    session = "disconnect-buffered"
    body = {"model": f"ok/{SONNET}", "messages": [{"role": "user", "content": "go"}]}
    with client_for(server) as client, pytest.raises(httpx2.ReadTimeout):
        client.post(
            "/v1/chat/completions",
            json={**body, "stream": False},
            headers={"x-client-session-id": session},
            timeout=httpx2.Timeout(20, read=1.0),
        )
    closed_at = time.monotonic()
    call = wait_for(
        lambda: next((r for r in fake.model_requests() if r.outcome != "pending"), None),
        timeout=5,
        message="the upstream call to end",
    )
    assert call.outcome == "client_closed"
    assert call.ended_at is not None and call.ended_at - closed_at < 1.0
    root: Path = server.state_root  # type: ignore[attr-defined]
    line = wait_for(
        lambda: _ledger_line(root / "state" / "usage.jsonl", f"http-{session}"),
        timeout=5,
        message="ledger",
    )
    assert line["status"] == "client_disconnected"


@pytest.mark.parametrize("stream", [True, False])
def test_reasoning_streams_as_reasoning_content_never_as_content(
    server: RunningServer, fake: FakeUpstream, stream: bool
) -> None:
    fake.enqueue(
        Reply(
            blocks=[
                Block(
                    type="thinking",
                    text="Let me think.",
                    chunks=["Let me ", "think."],
                    signature="sig-1",
                ),
                Block(type="text", text="Answer.", chunks=["Ans", "wer."]),
            ]
        )
    )
    body = {"model": f"ok/{SONNET}", "messages": [{"role": "user", "content": "q"}]}
    with client_for(server) as client:
        response = client.post("/v1/chat/completions", json={**body, "stream": stream})
    assert response.status_code == 200
    if not stream:
        message = response.json()["choices"][0]["message"]
        assert (message["content"], message["reasoning_content"]) == ("Answer.", "Let me think.")
        return
    headers = response.headers
    assert (headers["cache-control"], headers["x-accel-buffering"]) == ("no-cache", "no")
    assert headers["x-amplifier-agent-provider"] == "ok"
    frames = [f for f in response.text.split("\n\n") if f.startswith("data: {")]
    deltas = [json.loads(f[len("data: ") :])["choices"][0]["delta"] for f in frames]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1:5] == [
        {"reasoning_content": "Let me "},
        {"reasoning_content": "think."},
        {"content": "Ans"},
        {"content": "wer."},
    ]
    assert deltas[5] == {}
