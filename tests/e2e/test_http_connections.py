"""The connection layer (docs/http.md, "Slow and silent connections"): raw loopback sockets that
send part of a request and go quiet are closed after the header or body deadline, while slow
responses and keep-alive are untouched. The server runs with both deadlines at 1 s."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from testkit import Block, FakeUpstream, Reply, reply_text
from tests.e2e.server_harness import RunningServer, running_server, write_config
from tests.e2e.test_http_rejections import anthropic_entry, scrubbed_env

MODEL = "claude-sonnet-4-5-20250929"
DEADLINE_S = 1.0
#: Far above the deadline: a server without one keeps the socket open past this.
PATIENCE_S = 8.0


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("connections")
    providers = {"anthropic": anthropic_entry(upstream.url)}
    config = write_config(root / "host_config.json", {"providers": providers})
    env = scrubbed_env(
        root,
        {
            "ANTHROPIC_API_KEY": "sk-ant-test",
            "AMPLIFIER_AGENT_HTTP_HEADER_TIMEOUT_S": str(DEADLINE_S),
            "AMPLIFIER_AGENT_HTTP_BODY_TIMEOUT_S": str(DEADLINE_S),
        },
    )
    with running_server(config, env, cwd=root) as running:
        yield running


def connect(server: RunningServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=PATIENCE_S)
    return sock


def closed_by_server(sock: socket.socket) -> bytes:
    """Everything the server sent until it closed; fails if it is still open after PATIENCE_S."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {PATIENCE_S:g} s")
    except ConnectionResetError:
        pass
    return received


def request_head(server: RunningServer, length: int) -> bytes:
    host = server.url.removeprefix("http://")
    return (
        "POST /v1/chat/completions HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        f"Authorization: Bearer {server.api_key}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def chat_bytes(**fields: object) -> bytes:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **fields}
    return json.dumps(body).encode()


def test_a_connection_that_never_sends_is_closed(server: RunningServer) -> None:
    with connect(server) as sock:
        assert closed_by_server(sock) == b""


def test_partial_headers_then_silence_are_closed(server: RunningServer, fake: FakeUpstream) -> None:
    with connect(server) as sock:
        sock.sendall(request_head(server, 10)[:40])
        assert closed_by_server(sock) == b""
    assert fake.requests == []


def drip(sock: socket.socket, data: bytes) -> float:
    """Send `data` one byte per 0.2 s; the seconds until the server cut the connection (or
    until all of it was sent)."""
    started = time.monotonic()
    try:
        for byte in data:
            sock.sendall(bytes([byte]))
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return time.monotonic() - started


def test_dripping_headers_byte_by_byte_do_not_extend_the_deadline(server: RunningServer) -> None:
    with connect(server) as sock:
        # 60 bytes take 12 s if the server keeps taking them.
        assert drip(sock, request_head(server, 10)[:60]) < PATIENCE_S


def test_a_body_that_stops_arriving_is_closed(server: RunningServer, fake: FakeUpstream) -> None:
    body = chat_bytes(stream=False)
    with connect(server) as sock:
        sock.sendall(request_head(server, len(body)) + body[:10])
        assert closed_by_server(sock) == b""
    assert fake.requests == []


def test_a_stalled_body_behind_a_pipelined_request_is_closed_too(
    server: RunningServer, fake: FakeUpstream
) -> None:
    body = chat_bytes(stream=False)
    healthz = f"GET /healthz HTTP/1.1\r\nHost: {server.url.removeprefix('http://')}\r\n\r\n"
    with connect(server) as sock:
        sock.sendall(healthz.encode() + request_head(server, len(body)) + body[:10])
        received = closed_by_server(sock)
    assert received.startswith(b"HTTP/1.1 200 ") and received.endswith(b"ok")
    assert fake.requests == []


def test_a_body_the_app_refused_early_cannot_hold_the_connection(server: RunningServer) -> None:
    body = chat_bytes(stream=False)
    head = request_head(server, len(body)).replace(server.api_key.encode(), b"wrong-key")
    with connect(server) as sock:
        sock.sendall(head)
        assert sock.recv(65536).startswith(b"HTTP/1.1 401 ")
        # Each byte would reset an idle timeout; the body deadline counts from the headers.
        assert drip(sock, body[:60]) < PATIENCE_S


def test_a_body_sent_in_pieces_within_the_deadline_is_served(
    server: RunningServer, fake: FakeUpstream
) -> None:
    fake.enqueue(reply_text("pieced"))
    body = chat_bytes(stream=False)
    third = len(body) // 3 + 1
    with connect(server) as sock:
        sock.sendall(request_head(server, len(body)))
        for start in range(0, len(body), third):
            time.sleep(0.1)
            sock.sendall(body[start : start + third])
        head, payload = read_response(sock)
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert json.loads(payload)["choices"][0]["message"]["content"] == "pieced"


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One `Content-Length` response: its head and its body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def test_slow_responses_and_keep_alive_are_not_cut(
    server: RunningServer, fake: FakeUpstream
) -> None:
    words = ["slow ", "but ", "whole"]
    # Upstream events 0.4 s apart: the answer takes well over both deadlines.
    fake.enqueue(
        Reply(blocks=[Block(type="text", text="".join(words), chunks=words)], delay_s=0.4),
        reply_text("again"),
    )
    body = chat_bytes(stream=False)
    with connect(server) as sock:
        sock.sendall(request_head(server, len(body)) + body)
        slow = read_response(sock)
        time.sleep(DEADLINE_S * 1.5)  # idle between requests: the keep-alive timeout's job
        sock.sendall(request_head(server, len(body)) + body)
        again = read_response(sock)  # same socket: the connection was kept
    assert slow[0].startswith(b"HTTP/1.1 200 ") and again[0].startswith(b"HTTP/1.1 200 ")
    assert json.loads(slow[1])["choices"][0]["message"]["content"] == "slow but whole"
    assert json.loads(again[1])["choices"][0]["message"]["content"] == "again"
