"""What every route that serves a turn shares, whatever its wire shape: the exchange, refusing
work while draining, resolving the model, running the turn while watching for a disconnect, and
the SSE loop that commits on the first visible frame and keeps a silent stream alive."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.messages import ToolSpec
from amplifier_agent.engine import (
    CallOptions,
    EngineService,
    ResolvedModel,
    ResponseStore,
    TurnReport,
    TurnRequest,
)
from amplifier_agent.server import errors
from amplifier_agent.server.conversation import Conversation
from amplifier_agent.server.errors import HttpError
from amplifier_agent.server.metrics import ModelLabels, ServerMetrics
from amplifier_agent.server.request_watch import OverheadClock, RequestWatch
from amplifier_agent.server.turn_runner import TURN_OVER, Failure, TurnRunner

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

KEEPALIVE_S = 3.0
KEEPALIVE_FRAME = b": keepalive\n\n"
CLIENT_CLOSED = 499

SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]


@dataclass
class ChatContext:
    """Per-server settings and the set of turns in flight (for shutdown draining)."""

    engine: EngineService
    model_id: str | None = None
    keepalive_s: float = KEEPALIVE_S
    in_flight: set[TurnRunner] = field(default_factory=set)
    draining: bool = False
    metrics: ServerMetrics | None = None
    _responses: ResponseStore | None = field(default=None, init=False, repr=False)

    @property
    def responses(self) -> ResponseStore:
        """Where `store: true` responses live (built on first use: few servers need it)."""
        if self._responses is None:
            self._responses = ResponseStore(self.engine.store.sessions(self.engine.workspace))
        return self._responses


@dataclass(frozen=True, slots=True)
class TraceHeaders:
    """The W3C trace context a request arrived with."""

    traceparent: str | None = None
    tracestate: str | None = None


@dataclass
class Exchange:
    """One HTTP exchange: ASGI callables plus the response headers decided so far."""

    send: Send
    receive: Receive
    headers: list[tuple[bytes, bytes]]
    status: int = 0
    started: float = field(default_factory=time.monotonic)
    #: Set on the turn routes: every response then carries our own overhead so far.
    clock: OverheadClock | None = None
    trace: TraceHeaders = TraceHeaders()
    #: The model a turn resolved to, for the metrics' labels.
    model: ModelLabels | None = None

    async def start(self, status: int, extra: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        headers = self.headers + extra
        if self.clock is not None:
            headers.append(self.clock.header())
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def body(self, data: bytes, more: bool = True) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def json(self, body: bytes) -> None:
        length = str(len(body)).encode()
        await self.start(200, [(b"content-type", b"application/json"), (b"content-length", length)])
        await self.body(body, more=False)


class StreamRenderer(Protocol):
    """One wire shape's SSE frames for a turn."""

    def opening(self) -> bytes:
        """The frames sent when the stream commits (before the first visible frame)."""

    def frame(self, event: object) -> bytes | None:
        """The frame for one display event, or None when the event shows nothing."""

    async def closing(self, runner: TurnRunner, failure: Failure | None) -> list[bytes]:
        """The frames that end the stream, after the turn ended (in-band `failure` if any)."""


def resolve_model(ctx: ChatContext, model: str) -> ResolvedModel:
    """Which provider serves `model`; refused while draining, 400 for an unknown model."""
    if ctx.draining:
        raise errors.shutting_down()
    try:
        return ctx.engine.resolve(model)
    except AmplifierError as error:  # unknown_model / ambiguous_model
        raise HttpError(400, error.code, error.message, param="model") from error


def conversation_turn(
    conversation: Conversation,
    *,
    model: ResolvedModel,
    request_id: str,
    session_id: str | None,
    host_tools: tuple[ToolSpec, ...],
    options: CallOptions,
) -> TurnRequest:
    return TurnRequest(
        model=model,
        request_id=request_id,
        history=conversation.history,
        prompt=conversation.prompt,
        containment=conversation.containment,
        session_id=session_id,
        host_tools=host_tools,
        options=options,
    )


def client_went_away(runner: TurnRunner) -> bool:
    return runner.cancelled and runner.control.cancel_status == "client_disconnected"


@asynccontextmanager
async def running_turn(
    ctx: ChatContext, exchange: Exchange, turn: TurnRequest
) -> AsyncIterator[TurnRunner]:
    """The turn running in its task, watched (overhead, metrics) and traced under the request's
    trace context; cancelled when the client disconnects or the route ends early, and then
    logged as 499."""
    clock = exchange.clock = exchange.clock or OverheadClock(exchange.started)
    labels = exchange.model = _labels(turn)
    turn = replace(
        turn,
        observer=RequestWatch(clock, ctx.metrics),
        traceparent=exchange.trace.traceparent,
        tracestate=exchange.trace.tracestate,
    )
    runner = TurnRunner(ctx.engine, turn)
    ctx.in_flight.add(runner)
    watcher = asyncio.create_task(_watch_disconnect(exchange.receive, runner))
    try:
        yield runner
    finally:
        watcher.cancel()
        ctx.in_flight.discard(runner)
        if not runner.task.done():
            runner.cancel("client_disconnected")
        if client_went_away(runner):
            exchange.status = CLIENT_CLOSED
        if ctx.metrics is not None:
            _count_turn(ctx.metrics, labels, clock, exchange.started, runner)


def _labels(turn: TurnRequest) -> ModelLabels:
    model = turn.model
    if isinstance(model, ResolvedModel):
        return ModelLabels(model.provider_id, model.model or "")
    return ModelLabels("", "")  # the routes always resolve first; never a client's string


def _count_turn(
    metrics: ServerMetrics,
    labels: ModelLabels,
    clock: OverheadClock,
    started: float,
    runner: TurnRunner,
) -> None:
    """The per-turn series; the request itself is counted by the app for every route."""
    metrics.turn_ended(labels, time.monotonic() - started, clock.overhead_s())
    if not runner.task.done() or runner.task.cancelled():
        return
    failure = runner.failure()
    if failure is not None and failure.code == "session_busy":
        metrics.lock_conflicts.inc()
    elif failure is None and runner.task.result().host_calls:
        metrics.host_round_trip(labels)


async def _watch_disconnect(receive: Receive, runner: TurnRunner) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not runner.task.done():
                runner.cancel("client_disconnected")
            return


async def stream_turn(
    ctx: ChatContext, exchange: Exchange, runner: TurnRunner, renderer: StreamRenderer
) -> None:
    """Stream the turn: a failure before anything visible is still a plain HTTP error."""
    committed = False

    async def commit() -> None:
        nonlocal committed
        if not committed:
            committed = True
            await exchange.start(200, SSE_HEADERS)
            await exchange.body(renderer.opening())

    last_frame = time.monotonic()
    while True:
        silence = ctx.keepalive_s - (time.monotonic() - last_frame)
        item = await runner.next_event(max(silence, 0.0))
        if item is TURN_OVER:
            break
        frame = renderer.frame(item) if item is not None else KEEPALIVE_FRAME
        if frame is None:
            continue
        await commit()
        await exchange.body(frame)
        last_frame = time.monotonic()
    if client_went_away(runner):
        return
    failure = runner.failure()
    if failure is not None and not committed:
        raise failure.as_http_error()
    await commit()
    *frames, last = await renderer.closing(runner, failure)
    for frame in frames:
        await exchange.body(frame)
    await exchange.body(last, more=False)


async def drain_turn(runner: TurnRunner, on_event: Callable[[object], object]) -> TurnReport | None:
    """Every event to `on_event`, then the turn's report; None when the client went away, and
    the turn's failure raised as an HTTP error (nothing was sent yet)."""
    while (item := await runner.next_event(None)) is not TURN_OVER:
        on_event(item)
    if client_went_away(runner):
        return None
    failure = runner.failure()
    if failure is not None:
        raise failure.as_http_error()
    return runner.task.result()
