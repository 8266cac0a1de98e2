"""The floor under `serve chat-completions`: the smallest server built from the same required
parts, for `http_hot_path.py --server-cmd`, so every figure of that benchmark can be read against
what the parts alone cost on this machine.

    python bench/http_hot_path.py --server-cmd "python bench/floor_server.py"
    python bench/http_hot_path.py --server-cmd "python bench/floor_server.py --upstream aiohttp"

The parts are the ones the product must use on its hot path: uvicorn (httptools, uvloop, the same
settings), the official openai SDK client over its documented aiohttp transport, the generic
`post` with a streamed raw response, SSE events decoded once with orjson. Everything else is left
out: no agent loop, tools, prompt, sessions, ledger, store, metrics, gate beyond the bearer check,
request validation or error mapping. A non-streamed request gets the upstream's text in one
`chat.completion`; a streamed one gets each upstream event re-encoded as a chunk. It accepts the
CLI's arguments (`serve chat-completions --port ... --api-key ...`), ignores the ones it has no
use for, and prints the same banner. `--upstream aiohttp` sends the upstream request with a bare
aiohttp session instead of the SDK (same headers and body), which prices the SDK's request path.
"""

from __future__ import annotations

import argparse
import gc
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import httpx2
import openai
import orjson
import uvicorn

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = [(b"content-type", b"application/json")]
SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


class FloorApp:
    def __init__(self, api_key: str, upstream: str) -> None:
        self._bearer = f"Bearer {api_key}".encode()
        self._client = openai.AsyncOpenAI(
            max_retries=0,
            http_client=openai.DefaultAioHttpClient(timeout=httpx2.Timeout(60.0, connect=5.0)),
        )
        self._bare = upstream == "aiohttp"
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/healthz":
            await _reply(send, 200, b"ok", [(b"content-type", b"text/plain")])
            return
        if dict(scope["headers"]).get(b"authorization") != self._bearer:
            await _reply(send, 401, b'{"error":{"message":"bad key"}}', JSON)
            return
        request = orjson.loads(await _body(receive))
        upstream = {
            "model": request["model"],
            "messages": request["messages"],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        events = self._events(upstream)
        if request.get("stream"):
            await self._stream(send, events)
        else:
            await self._buffered(send, request["model"], events)

    async def _events(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        pending = b""
        async for chunk in self._bytes(body):
            pending += chunk
            *frames, pending = pending.split(b"\n\n")
            for frame in frames:
                data = frame.removeprefix(b"data: ")
                if data and not data.startswith(b"[DONE]"):
                    yield orjson.loads(data)

    async def _bytes(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        if self._bare:
            async for chunk in self._bare_bytes(body):
                yield chunk
            return
        response = await self._client.post(
            "/chat/completions",
            content=orjson.dumps(body),
            cast_to=httpx2.Response,
            stream=True,
        )
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        finally:
            await response.aclose()

    async def _bare_bytes(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={
                    "Authorization": f"Bearer {self._client.api_key}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        url = f"{self._client.base_url}chat/completions"
        async with self._session.post(url, data=orjson.dumps(body)) as response:
            response.raise_for_status()
            async for chunk in response.content.iter_any():
                yield chunk

    async def _buffered(self, send: Send, model: str, events: AsyncIterator[Message]) -> None:
        parts: list[str] = []
        usage: dict[str, Any] | None = None
        async for event in events:
            for choice in event.get("choices") or ():
                parts.append(choice.get("delta", {}).get("content") or "")
            usage = event.get("usage") or usage
        completion = {
            "id": "chatcmpl-floor",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(parts)},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
        await _reply(send, 200, orjson.dumps(completion), JSON)

    async def _stream(self, send: Send, events: AsyncIterator[Message]) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": SSE})
        async for event in events:
            frame = b"data: " + orjson.dumps(event) + b"\n\n"
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})


async def _body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


async def _reply(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--upstream", choices=("sdk", "aiohttp"), default="sdk")
    args, _ = parser.parse_known_args(sys.argv[1:])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    config = uvicorn.Config(
        FloorApp(args.api_key, args.upstream),
        http="httptools",
        loop="uvloop",
        lifespan="off",
        access_log=False,
        log_level="warning",
        log_config=None,
    )
    server = uvicorn.Server(config)
    sys.stderr.write(f"floor server listening on http://127.0.0.1:{sock.getsockname()[1]}\n")
    sys.stderr.flush()
    gc.freeze()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
