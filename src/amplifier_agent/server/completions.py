"""`POST /v1/chat/completions`: parse, resolve the model, run the turn, and stream it as SSE or
buffer it into one JSON body (SPEC §8.4–8.8)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.events import ResultDelta, ThinkingStreamed
from amplifier_agent.engine import CallOptions, EngineService, ResolvedModel, TurnRequest
from amplifier_agent.server import errors
from amplifier_agent.server.chat_request import ChatRequest, parse_chat_request
from amplifier_agent.server.chunks import (
    DONE_FRAME,
    KEEPALIVE_FRAME,
    ChunkWriter,
    client_call_ids,
    completion_body,
    tool_call_json,
)
from amplifier_agent.server.conversation import Conversation, to_conversation
from amplifier_agent.server.errors import HttpError
from amplifier_agent.server.turn_runner import TURN_OVER, Failure, TurnRunner

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

KEEPALIVE_S = 3.0
CLIENT_CLOSED = 499


@dataclass
class ChatContext:
    """Per-server settings and the set of turns in flight (for shutdown draining)."""

    engine: EngineService
    model_id: str | None = None
    keepalive_s: float = KEEPALIVE_S
    in_flight: set[TurnRunner] = field(default_factory=set)
    draining: bool = False


@dataclass
class Exchange:
    """One HTTP exchange: ASGI callables plus the response headers decided so far."""

    send: Send
    receive: Receive
    headers: list[tuple[bytes, bytes]]
    status: int = 0

    async def start(self, status: int, extra: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        await self.send(
            {"type": "http.response.start", "status": status, "headers": self.headers + extra}
        )

    async def body(self, data: bytes, more: bool = True) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": more})


def chat_turn_for(
    request: ChatRequest,
    model: ResolvedModel,
    conversation: Conversation,
    request_id: str,
    session_id: str | None,
) -> TurnRequest:
    return TurnRequest(
        model=model,
        request_id=request_id,
        history=conversation.history,
        prompt=conversation.prompt,
        containment=conversation.containment,
        session_id=session_id,
        host_tools=request.tools,
        options=CallOptions(
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop=request.stop,
            tool_choice=request.tool_choice,
        ),
    )


async def handle_chat(
    ctx: ChatContext,
    exchange: Exchange,
    body: bytes,
    request_id: str,
    session_id: Callable[[], str | None],
    *,
    prefers_json: bool = False,
) -> None:
    """Serve one chat request; `session_id` validates the session header when called, which
    happens only after the body and the model were accepted (SPEC §8.4 order). `prefers_json`
    (from `Accept`) answers with one JSON body when the request does not say `stream`."""
    request = parse_chat_request(body, stream_default=not prefers_json)
    conversation = to_conversation(request.messages)
    if ctx.draining:
        raise errors.shutting_down()
    try:
        model = ctx.engine.resolve(request.model)
    except AmplifierError as error:  # unknown_model / ambiguous_model
        raise HttpError(400, error.code, error.message, param="model") from error
    turn = chat_turn_for(request, model, conversation, request_id, session_id())
    exchange.headers.append((b"x-amplifier-agent-provider", model.provider_id.encode()))
    if request.ignored_params:
        names = ",".join(request.ignored_params).encode()
        exchange.headers.append((b"x-amplifier-agent-ignored-params", names))
    writer = ChunkWriter(model=ctx.model_id or request.model)
    runner = TurnRunner(ctx.engine, turn)
    ctx.in_flight.add(runner)
    watcher = asyncio.create_task(_watch_disconnect(exchange.receive, runner))
    try:
        if request.stream:
            await _stream(ctx, exchange, runner, writer)
        else:
            await _buffered(exchange, runner, writer)
    finally:
        watcher.cancel()
        ctx.in_flight.discard(runner)
        if not runner.task.done():
            runner.cancel("client_disconnected")
        if runner.cancelled and runner.control.cancel_status == "client_disconnected":
            exchange.status = CLIENT_CLOSED


async def _watch_disconnect(receive: Receive, runner: TurnRunner) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not runner.task.done():
                runner.cancel("client_disconnected")
            return


SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]


async def _stream(
    ctx: ChatContext, exchange: Exchange, runner: TurnRunner, writer: ChunkWriter
) -> None:
    committed = False

    async def commit() -> None:
        nonlocal committed
        if not committed:
            committed = True
            await exchange.start(200, SSE_HEADERS)
            await exchange.body(writer.role())

    last_frame = time.monotonic()
    while True:
        silence = ctx.keepalive_s - (time.monotonic() - last_frame)
        item = await runner.next_event(max(silence, 0.0))
        if item is TURN_OVER:
            break
        frame = _visible_frame(writer, item) if item is not None else KEEPALIVE_FRAME
        if frame is None:
            continue
        await commit()
        await exchange.body(frame)
        last_frame = time.monotonic()
    if runner.cancelled and runner.control.cancel_status == "client_disconnected":
        return
    failure = runner.failure()
    if failure is not None and not committed:
        raise failure.as_http_error()
    await commit()
    await _finish_stream(exchange, runner, writer, failure)


def _visible_frame(writer: ChunkWriter, event: object) -> bytes | None:
    if isinstance(event, ResultDelta):
        return writer.delta({"content": event.text}) if event.text else None
    if isinstance(event, ThinkingStreamed):
        return writer.delta({"reasoning_content": event.text}) if event.text else None
    return None


async def _finish_stream(
    exchange: Exchange, runner: TurnRunner, writer: ChunkWriter, failure: Failure | None
) -> None:
    report = None if runner.cancelled or runner.task.exception() else runner.task.result()
    usage = report.usage if report else None
    if failure is not None:
        code = failure.in_band_code()
        note = f"\n\n[amplifier-agent error: {code}: {failure.message}]\n"
        await exchange.body(writer.delta({"content": note}))
        error = {"code": code, "message": failure.message}
        await exchange.body(writer.terminal("stop", usage, error))
    else:
        calls = report.host_calls if report else ()
        for index, (call, call_id) in enumerate(zip(calls, client_call_ids(calls), strict=True)):
            await exchange.body(
                writer.delta({"tool_calls": [tool_call_json(index, call, call_id)]})
            )
        await exchange.body(writer.terminal("tool_calls" if calls else "stop", usage))
    await exchange.body(DONE_FRAME, more=False)


async def _buffered(exchange: Exchange, runner: TurnRunner, writer: ChunkWriter) -> None:
    content: list[str] = []
    reasoning: list[str] = []
    while (item := await runner.next_event(None)) is not TURN_OVER:
        if isinstance(item, ResultDelta):
            content.append(item.text)
        elif isinstance(item, ThinkingStreamed):
            reasoning.append(item.text)
    if runner.cancelled and runner.control.cancel_status == "client_disconnected":
        return
    failure = runner.failure()
    if failure is not None:
        raise failure.as_http_error()
    report = runner.task.result()
    calls = report.host_calls
    tool_calls = [
        tool_call_json(i, call, call_id)
        for i, (call, call_id) in enumerate(zip(calls, client_call_ids(calls), strict=True))
    ]
    body = completion_body(
        writer,
        content="".join(content),
        reasoning="".join(reasoning),
        tool_calls=tool_calls,
        usage=report.usage,
    )
    await exchange.start(
        200, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    )
    await exchange.body(body, more=False)


__all__ = ["ChatContext", "Exchange", "HttpError", "handle_chat"]
