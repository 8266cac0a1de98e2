"""`POST /v1/responses` and `GET /v1/responses/{id}`: the Responses API as a second translator
over the chat face's turn (same gate, registry, engine, sessions and cost). Stored responses
(`store: true`) carry the conversation's items, so `previous_response_id` resends nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from amplifier_agent.core.messages import ToolSpec
from amplifier_agent.engine import CallOptions, ResponseStore, offload
from amplifier_agent.server.chat_messages import ChatMessage
from amplifier_agent.server.conversation import to_conversation
from amplifier_agent.server.errors import HttpError
from amplifier_agent.server.responses_items import items_to_messages
from amplifier_agent.server.responses_output import JsonObject, ResponseTranslator, new_id
from amplifier_agent.server.responses_request import ResponsesRequest, parse_responses_request
from amplifier_agent.server.turn_exchange import (
    ChatContext,
    Exchange,
    conversation_turn,
    drain_turn,
    resolve_model,
    running_turn,
    stream_turn,
)
from amplifier_agent.server.turn_runner import Failure, TurnRunner

log = logging.getLogger(__name__)


async def handle_responses(
    ctx: ChatContext,
    exchange: Exchange,
    body: bytes,
    request_id: str,
    session_header: Callable[[], str | None],
) -> None:
    """Serve one Responses request; the session header is read only once the body and the model
    were accepted, as on the chat face."""
    request = parse_responses_request(body)
    store = ctx.responses
    previous = await _previous(ctx, store, request.previous_response_id)
    prior_items: list[JsonObject] = list(previous["items"]) if previous else []
    conversation = to_conversation(_messages(request, prior_items), "input")
    model = resolve_model(ctx, request.model)
    response_id = new_id("resp")
    session_id = _session(request, previous, session_header, response_id)
    turn = conversation_turn(
        conversation,
        model=model,
        request_id=request_id,
        session_id=session_id,
        host_tools=request.tools,
        options=CallOptions(
            max_tokens=request.max_output_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            tool_choice=request.tool_choice,
        ),
    )
    _decided_headers(exchange, model.provider_id, request)
    translator = ResponseTranslator(_head(ctx, request, response_id), streaming=request.stream)
    saver = _Saver(ctx, store, request, prior_items, session_id)
    async with running_turn(ctx, exchange, turn) as runner:
        if request.stream:
            await stream_turn(ctx, exchange, runner, _StreamRenderer(translator, saver))
            return
        report = await drain_turn(runner, translator.frame)
        if report is None:
            return
        response = translator.finish(report)
        await saver.save(response)
        await exchange.json(orjson.dumps(response))


async def handle_retrieve(ctx: ChatContext, exchange: Exchange, response_id: str) -> None:
    record = await offload(ctx.engine.writer, ctx.responses.load, response_id)
    if record is None:
        raise _not_found(response_id, None)
    await exchange.json(orjson.dumps(record["response"]))


def _not_found(response_id: str, param: str | None) -> HttpError:
    shown = response_id[:80]
    status = 400 if param else 404
    return HttpError(status, "response_not_found", f"No stored response '{shown}'", param=param)


async def _previous(
    ctx: ChatContext, store: ResponseStore, response_id: str | None
) -> dict[str, Any] | None:
    if response_id is None:
        return None
    record = await offload(ctx.engine.writer, store.load, response_id)
    if record is None:
        raise _not_found(response_id, "previous_response_id")
    return record


def _messages(request: ResponsesRequest, prior: list[JsonObject]) -> list[ChatMessage]:
    """`instructions` (not carried over from a previous response, as OpenAI documents), the
    stored conversation, then this request's input."""
    head = [ChatMessage("developer", request.instructions)] if request.instructions else []
    stored = items_to_messages(prior, "previous_response_id") if prior else []
    return [*head, *stored, *items_to_messages(list(request.items))]


def _session(
    request: ResponsesRequest,
    previous: dict[str, Any] | None,
    session_header: Callable[[], str | None],
    response_id: str,
) -> str | None:
    """A chain of stored responses stays in its first response's session; otherwise the
    client's conversation key or session header correlates stateless requests."""
    if previous is not None and previous.get("session_id"):
        return str(previous["session_id"])
    chosen = request.session_id or session_header()
    if chosen is None and request.store:
        return response_id
    return chosen


def _decided_headers(exchange: Exchange, provider_id: str, request: ResponsesRequest) -> None:
    exchange.headers.append((b"x-amplifier-agent-provider", provider_id.encode()))
    if request.ignored_params:
        names = ",".join(request.ignored_params).encode()
        exchange.headers.append((b"x-amplifier-agent-ignored-params", names))
    if request.ignored_tools:
        kinds = ",".join(request.ignored_tools).encode()
        exchange.headers.append((b"x-amplifier-agent-ignored-tools", kinds))


def _head(ctx: ChatContext, request: ResponsesRequest, response_id: str) -> JsonObject:
    """The fields every response snapshot echoes from the request."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "model": ctx.model_id or request.model,
        "error": None,
        "incomplete_details": None,
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "metadata": request.metadata or {},
        "parallel_tool_calls": request.parallel_tool_calls,
        "previous_response_id": request.previous_response_id,
        "store": request.store,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "tool_choice": request.tool_choice_json,
        "tools": [_tool_json(tool) for tool in request.tools],
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
    }


def _tool_json(tool: ToolSpec) -> JsonObject:
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters,
        "strict": False,
    }


class _Saver:
    """Stores a completed response with its conversation's items when the request said
    `store: true`."""

    def __init__(
        self,
        ctx: ChatContext,
        store: ResponseStore,
        request: ResponsesRequest,
        prior: list[JsonObject],
        session_id: str | None,
    ) -> None:
        self._ctx, self._store, self._request = ctx, store, request
        self._prior, self._session_id = prior, session_id

    async def save(self, response: JsonObject) -> None:
        if not self._request.store:
            return
        items = [*self._prior, *self._request.items, *response["output"]]
        record = {"response": response, "items": items, "session_id": self._session_id}
        await offload(self._ctx.engine.writer, self._store.save, response["id"], record)


class _StreamRenderer:
    """The translator's SSE frames; a completed response is stored before its last event is
    sent, so a client may retrieve or continue it as soon as its stream ends."""

    def __init__(self, translator: ResponseTranslator, saver: _Saver) -> None:
        self._translator, self._saver = translator, saver

    def opening(self) -> bytes:
        return self._translator.opening()

    def frame(self, event: object) -> bytes | None:
        return self._translator.frame(event)

    async def closing(self, runner: TurnRunner, failure: Failure | None) -> list[bytes]:
        frames = self._translator.closing(runner.report(), failure)
        if self._translator.final is not None:
            await self._saver.save(self._translator.final)
        return frames
