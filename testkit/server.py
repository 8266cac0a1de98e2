"""The fake upstream server: routes, the reply queue, fault injection and request recording.

Routes: `POST /v1/messages` (Anthropic), `POST /v1/chat/completions` (OpenAI, Ollama `/v1`, any
compatible endpoint), `POST /openai/deployments/{name}/chat/completions` (Azure), `GET /v1/models`
(Anthropic shape when the request carries `anthropic-version`, else OpenAI), `GET /openai/models`
(Azure). Control: `POST /_fake/script` (`{"replies": [...], "default": {...}, "models": [...]}`),
`GET /_fake/requests`, `POST /_fake/reset`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from testkit import anthropic_wire, openai_wire
from testkit.script import Reply, reply_text
from testkit.wire import WireFormat

DEFAULT_MODELS: list[dict[str, Any]] = [
    {
        "id": "claude-sonnet-4-5-20250929",
        "created": 1759104000,
        "display_name": "Claude Sonnet 4.5",
    },
    {"id": "claude-haiku-4-5-20251001", "created": 1760486400, "display_name": "Claude Haiku 4.5"},
    {"id": "gpt-5", "created": 1754524800},
    {"id": "gpt-5-mini", "created": 1754524800},
]


@dataclass
class RecordedRequest:
    """One request the fake received, and how its response ended.

    `outcome` is `complete`, `error`, `died` (fault injected) or `client_closed` (the client went
    away mid-stream); `ended_at` is a `time.monotonic()` reading.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    received_at: float
    outcome: str = "pending"
    ended_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _State:
    replies: list[Reply] = field(default_factory=list)
    default: Reply | None = None
    models: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_MODELS))
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, model: str) -> Reply | None:
        with self.lock:
            for index, reply in enumerate(self.replies):
                if reply.matches(model):
                    return self.replies.pop(index)
            return self.default


class FakeUpstream:
    """A scripted fake LLM server on 127.0.0.1, run in a background thread.

    Use as a context manager: `with FakeUpstream() as fake: fake.enqueue(reply_text("hi"))`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._state = _State()
        # IPPROTO_TCP explicitly: asyncio enables TCP_NODELAY only on sockets that say so.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- scripting -------------------------------------------------------------------------
    def enqueue(self, *replies: Reply) -> None:
        with self._state.lock:
            self._state.replies.extend(replies)

    def set_default(self, reply: Reply | None) -> None:
        self._state.default = reply

    def set_models(self, models: list[dict[str, Any]]) -> None:
        self._state.models = list(models)

    def reset(self) -> None:
        with self._state.lock:
            self._state.replies.clear()
            self._state.requests.clear()
            self._state.default = None
            self._state.models = list(DEFAULT_MODELS)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def model_requests(self) -> list[RecordedRequest]:
        """Recorded model calls (POSTs), oldest first."""
        return [r for r in self.requests if r.method == "POST" and not r.path.startswith("/_fake")]

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeUpstream:
        config = uvicorn.Config(
            build_app(self._state), log_level="critical", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake upstream did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build_app(state: _State) -> Starlette:
    """The ASGI app serving `state`; exposed so tests can mount it in-process too."""

    async def record(request: Request) -> RecordedRequest:
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            received_at=time.monotonic(),
        )
        with state.lock:
            state.requests.append(recorded)
        return recorded

    async def anthropic_messages(request: Request) -> Response:
        return await _answer(state, await record(request), anthropic_wire)

    async def chat_completions(request: Request) -> Response:
        return await _answer(state, await record(request), openai_wire)

    async def list_models(request: Request) -> Response:
        recorded = await record(request)
        wire: WireFormat = (
            anthropic_wire if "anthropic-version" in recorded.headers else openai_wire
        )
        recorded.outcome, recorded.ended_at = "complete", time.monotonic()
        return JSONResponse(wire.models_body(state.models))

    async def control_script(request: Request) -> Response:
        data = orjson.loads(await request.body())
        with state.lock:
            state.replies.extend(Reply.from_json(r) for r in data.get("replies", []))
            if "default" in data:
                state.default = Reply.from_json(data["default"]) if data["default"] else None
            if "models" in data:
                state.models = list(data["models"])
        return JSONResponse({"queued": len(state.replies)})

    async def control_requests(request: Request) -> Response:
        with state.lock:
            return Response(
                orjson.dumps([r.to_json() for r in state.requests]),
                media_type="application/json",
            )

    async def control_reset(request: Request) -> Response:
        with state.lock:
            state.replies.clear()
            state.requests.clear()
            state.default = None
            state.models = list(DEFAULT_MODELS)
        return JSONResponse({"reset": True})

    return Starlette(
        routes=[
            Route("/v1/messages", anthropic_messages, methods=["POST"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route(
                "/openai/deployments/{name}/chat/completions", chat_completions, methods=["POST"]
            ),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/openai/models", list_models, methods=["GET"]),
            Route("/_fake/script", control_script, methods=["POST"]),
            Route("/_fake/requests", control_requests, methods=["GET"]),
            Route("/_fake/reset", control_reset, methods=["POST"]),
        ]
    )


async def _answer(state: _State, recorded: RecordedRequest, wire: WireFormat) -> Response:
    body = recorded.body if isinstance(recorded.body, dict) else {}
    model = str(body.get("model") or _deployment_of(recorded.path))
    reply = state.take(model)
    if reply is None:
        reply = reply_text(
            "", error={"status": 500, "message": "fake upstream: no scripted reply left"}
        )
    if reply.error is not None:
        return _error_response(recorded, reply, wire)
    answered_model = reply.model or model
    if not body.get("stream"):
        recorded.outcome, recorded.ended_at = "complete", time.monotonic()
        return JSONResponse(wire.json_body(reply, answered_model))
    events = wire.stream_events(reply, answered_model)
    return StreamingResponse(
        _paced(events, reply, recorded),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache"},
    )


def _deployment_of(path: str) -> str:
    parts = path.split("/")
    return parts[3] if len(parts) > 3 and parts[2] == "deployments" else ""


def _error_response(recorded: RecordedRequest, reply: Reply, wire: WireFormat) -> Response:
    error = reply.error or {}
    status = int(error.get("status", 500))
    recorded.outcome, recorded.ended_at = "error", time.monotonic()
    headers = {str(k): str(v) for k, v in error.get("headers", {}).items()}
    if reply.raw_body is not None:
        return Response(reply.raw_body, status_code=status, headers=headers)
    content = wire.error_body(status, str(error.get("message", "error")), error.get("type"))
    return JSONResponse(content, status_code=status, headers=headers)


class _InjectedDeath(Exception):
    """Raised inside the body stream so the server drops the connection mid-response."""


async def _paced(
    events: list[bytes], reply: Reply, recorded: RecordedRequest
) -> AsyncIterator[bytes]:
    try:
        for index, event in enumerate(_iter_with_faults(events, reply)):
            if event is None:
                recorded.outcome, recorded.ended_at = "died", time.monotonic()
                raise _InjectedDeath(f"connection cut after {index} events")
            if reply.delay_s:
                await asyncio.sleep(reply.delay_s)
            if reply.stall_after_events is not None and index == reply.stall_after_events:
                await asyncio.sleep(reply.stall_s)
            yield event
        recorded.outcome, recorded.ended_at = "complete", time.monotonic()
    finally:
        if recorded.outcome == "pending":
            recorded.outcome, recorded.ended_at = "client_closed", time.monotonic()


def _iter_with_faults(events: list[bytes], reply: Reply) -> Iterator[bytes | None]:
    for index, event in enumerate(events):
        if reply.die_after_events is not None and index == reply.die_after_events:
            yield None
            return
        yield event


@contextmanager
def running(**kwargs: Any) -> Iterator[FakeUpstream]:
    with FakeUpstream(**kwargs) as fake:
        yield fake
