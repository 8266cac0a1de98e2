"""Time to first token added by the HTTP face: the same streamed chat request sent straight to a
fake OpenAI-wire upstream and through `serve chat-completions` (an `openai` provider pointed at
that fake), sequentially, as a JSON report.

    python bench/http_ttft.py [--requests 200] [--warmup 20]

Both the fake (`python -m testkit`) and the server run as their own processes on 127.0.0.1; the
client is a raw-socket HTTP/1.1 keep-alive client, so its own cost is tiny and the same on both
paths. TTFT is measured from just before the request is written to the arrival of the first
non-empty `delta.content`; the rest of each response is read before the next request.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hotpath_client import percentile
from hotpath_procs import (
    Endpoint,
    Placement,
    agent_server,
    fake_upstream,
    script_fake,
    server_command,
)

MODEL = "gpt-5"
DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog."
#: Sequential and single-client: nothing to keep apart, so no core pinning.
UNPINNED = Placement(None, None, None)


# -- processes ----------------------------------------------------------------------------------
@contextmanager
def scripted_fake(text: str) -> Iterator[Endpoint]:
    with fake_upstream(UNPINNED) as fake:
        script_fake(fake, {"blocks": [{"type": "text", "text": text}]})
        yield fake


# -- the client ---------------------------------------------------------------------------------
class StreamingClient:
    """A minimal HTTP/1.1 keep-alive client for streamed (chunked) chat responses."""

    def __init__(self, address: tuple[str, int], headers: dict[str, str]) -> None:
        self._sock = socket.create_connection(address, timeout=30)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        host = f"{address[0]}:{address[1]}"
        self._head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": host, **headers}.items())
        self._buffer = b""

    def ttft(self, body: bytes) -> float:
        """Seconds to the first content delta; then reads the response to its end."""
        request = (
            f"POST /v1/chat/completions HTTP/1.1\r\n{self._head}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        started = time.perf_counter()
        self._sock.sendall(request)
        first: float | None = None
        for payload in self._events():
            if first is None and _has_content(payload):
                first = time.perf_counter() - started
        if first is None:
            raise RuntimeError("the response carried no content delta")
        return first

    def _events(self) -> Iterator[bytes]:
        """`data:` payloads of one chunked SSE response, as they arrive, up to its last chunk."""
        head = self._until(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected response: {head[:200]!r}")
        pending = b""
        while True:
            size = int(self._until(b"\r\n").split(b";")[0], 16)
            chunk = self._exactly(size + 2)[:-2]
            if size == 0:
                return
            pending += chunk
            while b"\n\n" in pending:
                frame, pending = pending.split(b"\n\n", 1)
                if frame.startswith(b"data: "):
                    yield frame[6:]

    def _until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._fill()
        data, self._buffer = self._buffer.split(marker, 1)
        return data

    def _exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _fill(self) -> None:
        received = self._sock.recv(65536)
        if not received:
            raise RuntimeError("the server closed the connection")
        self._buffer += received

    def close(self) -> None:
        self._sock.close()


def _has_content(payload: bytes) -> bool:
    if payload == b"[DONE]" or b'"content"' not in payload:
        return False
    choices = json.loads(payload).get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))


# -- measuring ----------------------------------------------------------------------------------
def measure(target: Endpoint, requests: int, warmup: int) -> list[float]:
    body = json.dumps(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Say something short."}],
            "stream": True,
        }
    ).encode()
    headers = {"Authorization": f"Bearer {target.token}"}
    client = StreamingClient((target.host, target.port), headers)
    try:
        for _ in range(warmup):
            client.ttft(body)
        return [client.ttft(body) * 1000 for _ in range(requests)]
    finally:
        client.close()


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 0.50), 3),
        "p99_ms": round(percentile(samples, 0.99), 3),
        "mean_ms": round(statistics.fmean(samples), 3),
        "min_ms": round(min(samples), 3),
        "max_ms": round(max(samples), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--text", default=DEFAULT_TEXT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp, scripted_fake(args.text) as fake:
        direct = measure(fake, args.requests, args.warmup)
        with agent_server(server_command(None, None), fake, UNPINNED, Path(temp)) as server:
            through = measure(server.endpoint, args.requests, args.warmup)
    report = {
        "benchmark": "http_ttft",
        "requests": args.requests,
        "warmup": args.warmup,
        "model": MODEL,
        "direct": summary(direct),
        "through_server": summary(through),
        "added_p50_ms": round(percentile(through, 0.5) - percentile(direct, 0.5), 3),
        "added_p99_ms": round(percentile(through, 0.99) - percentile(direct, 0.99), 3),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
