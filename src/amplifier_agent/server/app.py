"""The ASGI application: the request gate (SPEC §8.3), routing, error bodies and the access log.

Pure ASGI, no framework middleware: every request passes the gate in the SPEC's order before a
byte of its body is read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from amplifier_agent.server import errors
from amplifier_agent.server.completions import ChatContext, Exchange, Receive, Send, handle_chat
from amplifier_agent.server.errors import HttpError, error_body
from amplifier_agent.server.gate import (
    BearerCheck,
    content_type_ok,
    cors_origin,
    host_allowed,
    origin_allowed,
    prefers_json,
    request_id,
    session_header,
)
from amplifier_agent.server.models_route import find_entry, model_entry, models_list_body
from amplifier_agent.server.responses import handle_responses, handle_retrieve

MAX_BODY_BYTES = 16 * 1024 * 1024
access_log = logging.getLogger("amplifier_agent.access")
log = logging.getLogger(__name__)

Scope = dict[str, Any]
Handler = Callable[[Scope, Exchange], Awaitable[None]]


@dataclass
class GateSettings:
    api_key: str
    bind_is_loopback: bool = True
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()


@dataclass
class AgentApp:
    chat: ChatContext
    gate: GateSettings
    started_at: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self) -> None:
        self._bearer = BearerCheck(self.gate.api_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.monotonic()
        headers = _headers(scope)
        rid = request_id(headers.get("x-request-id"))
        exchange = Exchange(send, receive, [(b"x-request-id", rid.encode())])
        try:
            await self._dispatch(scope, headers, exchange, rid)
        except HttpError as error:
            await _send_error(exchange, error)
        except Exception:  # the face's outermost edge: a bug becomes a clean 500, logged once
            log.exception("request %s failed", rid)
            await _send_error(exchange, HttpError(500, "internal", "internal server error"))
        duration_ms = (time.monotonic() - started) * 1000
        access_log.info(
            "%s %s %s %s %.1fms", rid, scope["method"], scope["path"], exchange.status, duration_ms
        )

    async def _dispatch(
        self, scope: Scope, headers: dict[str, str], exchange: Exchange, rid: str
    ) -> None:
        if not host_allowed(
            headers.get("host"),
            bind_is_loopback=self.gate.bind_is_loopback,
            allowed_hosts=self.gate.allowed_hosts,
        ):
            raise errors.invalid_host()
        origin = headers.get("origin")
        if not origin_allowed(origin, self.gate.allowed_origins):
            raise errors.forbidden_origin()
        cors = cors_origin(origin, self.gate.allowed_origins)
        if cors is not None:
            exchange.headers += [
                (b"access-control-allow-origin", cors.encode()),
                (b"vary", b"origin"),
            ]
            if scope["method"] == "OPTIONS":
                await _preflight(exchange)
                return
        method, path = scope["method"], scope["path"]
        if not (method == "GET" and path == "/healthz"):
            self._bearer.check(_raw_header(scope, b"authorization"))
        await self._route(method, path, scope, headers, exchange, rid)

    async def _route(
        self,
        method: str,
        path: str,
        scope: Scope,
        headers: dict[str, str],
        exchange: Exchange,
        rid: str,
    ) -> None:
        if path == "/healthz":
            _require(method, ("GET",))
            await _send(exchange, 200, b"ok", b"text/plain; charset=utf-8")
        elif path == "/v1/models":
            _require(method, ("GET",))
            body = models_list_body(self.chat.engine.registry_entries, self.started_at)
            await _send(exchange, 200, body)
        elif path.startswith("/v1/models/") and len(path) > len("/v1/models/"):
            _require(method, ("GET",))
            await self._one_model(exchange, path[len("/v1/models/") :])
        elif path == "/v1/chat/completions":
            _require(method, ("POST",))
            body = await _json_body(headers, exchange)
            await handle_chat(
                self.chat,
                exchange,
                body,
                rid,
                lambda: session_header(headers),
                prefers_json=prefers_json(_joined_header(scope, b"accept")),
            )
        elif path == "/v1/responses":
            _require(method, ("POST",))
            body = await _json_body(headers, exchange)
            await handle_responses(self.chat, exchange, body, rid, lambda: session_header(headers))
        elif path.startswith("/v1/responses/") and len(path) > len("/v1/responses/"):
            _require(method, ("GET",))
            await handle_retrieve(self.chat, exchange, path[len("/v1/responses/") :])
        else:
            raise errors.not_found(path)

    async def _one_model(self, exchange: Exchange, model_id: str) -> None:
        entry = find_entry(self.chat.engine.registry_entries, model_id)
        if entry is None:
            raise HttpError(404, "model_not_found", f"The model '{model_id}' is not served here")
        await _send(exchange, 200, orjson.dumps(model_entry(entry, self.started_at)))


def _require(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        raise errors.method_not_allowed(allowed)


def _headers(scope: Scope) -> dict[str, str]:
    """Header values by lower-case name (latin-1, as HTTP/1.1 bytes are); the first one wins."""
    result: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        result.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return result


def _joined_header(scope: Scope, name: bytes) -> str | None:
    """Every value of a list-valued header joined with commas, as HTTP allows it to be split."""
    values = [bytes(v).decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == name]
    return ", ".join(values) if values else None


def _raw_header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


async def _json_body(headers: dict[str, str], exchange: Exchange) -> bytes:
    """A POST body the routes decode as JSON: its media type checked before a byte is read."""
    if not content_type_ok(headers.get("content-type")):
        raise errors.unsupported_media_type()
    return await _read_body(exchange.receive, MAX_BODY_BYTES)


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The request body, refused (413) as soon as more than `limit` bytes have arrived."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(400, "client_disconnected", "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise errors.request_too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(
    exchange: Exchange,
    status: int,
    body: bytes,
    content_type: bytes = b"application/json",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    length = str(len(body)).encode()
    headers = [(b"content-type", content_type), (b"content-length", length), *(extra or [])]
    await exchange.start(status, headers)
    await exchange.body(body, more=False)


async def _send_error(exchange: Exchange, error: HttpError) -> None:
    if exchange.status:
        return  # the status line is committed; streaming errors were written in-band
    extra = [(k.lower().encode(), v.encode()) for k, v in (error.headers or {}).items()]
    body = error_body(error)
    await _send(exchange, error.status, body, extra=extra)


async def _preflight(exchange: Exchange) -> None:
    allow = [
        (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
        (b"access-control-allow-headers", b"authorization, content-type, x-client-session-id"),
        (b"access-control-max-age", b"600"),
    ]
    await exchange.start(204, allow)
    await exchange.body(b"", more=False)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
