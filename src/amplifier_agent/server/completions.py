"""`POST /v1/chat/completions`: parse, resolve the model, run the turn, and stream it as SSE or
buffer it into one JSON body (SPEC §8.4–8.8)."""

from __future__ import annotations

from collections.abc import Callable

from amplifier_agent.core.events import ResultDelta, ThinkingStreamed
from amplifier_agent.engine import CallOptions, ResolvedModel, TurnRequest
from amplifier_agent.server.chat_request import ChatRequest, parse_chat_request
from amplifier_agent.server.chunks import (
    DONE_FRAME,
    ChunkWriter,
    client_call_ids,
    completion_body,
    tool_call_json,
)
from amplifier_agent.server.conversation import Conversation, to_conversation
from amplifier_agent.server.errors import HttpError
from amplifier_agent.server.turn_exchange import (
    ChatContext,
    Exchange,
    Receive,
    Send,
    conversation_turn,
    drain_turn,
    resolve_model,
    running_turn,
    stream_turn,
)
from amplifier_agent.server.turn_runner import Failure, TurnRunner


def chat_turn_for(
    request: ChatRequest,
    model: ResolvedModel,
    conversation: Conversation,
    request_id: str,
    session_id: str | None,
) -> TurnRequest:
    return conversation_turn(
        conversation,
        model=model,
        request_id=request_id,
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
    model = resolve_model(ctx, request.model)
    turn = chat_turn_for(request, model, conversation, request_id, session_id())
    exchange.headers.append((b"x-amplifier-agent-provider", model.provider_id.encode()))
    if request.ignored_params:
        names = ",".join(request.ignored_params).encode()
        exchange.headers.append((b"x-amplifier-agent-ignored-params", names))
    writer = ChunkWriter(model=ctx.model_id or request.model)
    async with running_turn(ctx, exchange, turn) as runner:
        if request.stream:
            await stream_turn(ctx, exchange, runner, ChatRenderer(writer))
        else:
            await _buffered(exchange, runner, writer)


class ChatRenderer:
    """Chat-completions chunks for `stream_turn`."""

    def __init__(self, writer: ChunkWriter) -> None:
        self.writer = writer

    def opening(self) -> bytes:
        return self.writer.role()

    def frame(self, event: object) -> bytes | None:
        return _visible_frame(self.writer, event)

    async def closing(self, runner: TurnRunner, failure: Failure | None) -> list[bytes]:
        return [*_closing_frames(runner, self.writer, failure), DONE_FRAME]


def _visible_frame(writer: ChunkWriter, event: object) -> bytes | None:
    if isinstance(event, ResultDelta):
        return writer.delta({"content": event.text}) if event.text else None
    if isinstance(event, ThinkingStreamed):
        return writer.delta({"reasoning_content": event.text}) if event.text else None
    return None


def _closing_frames(
    runner: TurnRunner, writer: ChunkWriter, failure: Failure | None
) -> list[bytes]:
    report = runner.report()
    usage = report.usage if report else None
    if failure is not None:
        code = failure.in_band_code()
        note = f"\n\n[amplifier-agent error: {code}: {failure.message}]\n"
        error = {"code": code, "message": failure.message}
        return [writer.delta({"content": note}), writer.terminal("stop", usage, error)]
    calls = report.host_calls if report else ()
    frames = [
        writer.delta({"tool_calls": [tool_call_json(index, call, call_id)]})
        for index, (call, call_id) in enumerate(zip(calls, client_call_ids(calls), strict=True))
    ]
    frames.append(writer.terminal("tool_calls" if calls else "stop", usage))
    return frames


async def _buffered(exchange: Exchange, runner: TurnRunner, writer: ChunkWriter) -> None:
    content: list[str] = []
    reasoning: list[str] = []

    def collect(item: object) -> None:
        if isinstance(item, ResultDelta):
            content.append(item.text)
        elif isinstance(item, ThinkingStreamed):
            reasoning.append(item.text)

    report = await drain_turn(runner, collect)
    if report is None:
        return
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
    await exchange.json(body)


__all__ = [
    "ChatContext",
    "Exchange",
    "HttpError",
    "Receive",
    "Send",
    "handle_chat",
]
