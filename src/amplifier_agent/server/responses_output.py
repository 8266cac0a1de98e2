"""Responses output: the turn's display events become output items (`reasoning`, `message`,
`function_call`) and, when streaming, the Responses SSE events, each with its
`sequence_number`. One translator serves both transports, so they cannot disagree."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from amplifier_agent.core.events import ResultDelta, ThinkingStreamed
from amplifier_agent.core.messages import ToolCall
from amplifier_agent.core.usage import Usage, format_decimal
from amplifier_agent.engine import TurnReport
from amplifier_agent.server.chunks import arguments_text, client_call_ids
from amplifier_agent.server.turn_runner import Failure

JsonObject = dict[str, Any]


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def usage_json(usage: Usage | None) -> JsonObject:
    """Responses usage: `input_tokens` counts everything the model read, cache reads and writes
    included (as on the chat face), broken down under `input_tokens_details`; plus our
    `cost_usd` string."""
    usage = usage or Usage()
    read, written = usage.prompt_tokens, usage.output_tokens
    body: JsonObject = {
        "input_tokens": read,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": written,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": read + written,
    }
    if usage.cost_usd is not None:
        body["cost_usd"] = format_decimal(usage.cost_usd)
    return body


def function_call_item(call: ToolCall, call_id: str) -> JsonObject:
    return {
        "id": new_id("fc"),
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": call.name,
        "arguments": arguments_text(call),
    }


def _in_band_error(failure: Failure) -> JsonObject:
    code = failure.in_band_code()
    wire_code = "rate_limit_exceeded" if code == "rate_limited" else "server_error"
    return {"code": wire_code, "message": f"{code}: {failure.message}", "type": code}


@dataclass
class _OpenItem:
    """The item whose text is streaming: a `message` or a `reasoning` summary."""

    kind: str
    id: str
    index: int
    texts: list[str] = field(default_factory=list)
    prefix: bytes = b""


@dataclass
class ResponseTranslator:
    """Turns one turn into a response object; `head` holds the request-echo fields. With
    `streaming` off, no SSE bytes are encoded and `frame` always returns None."""

    head: JsonObject
    streaming: bool = True
    output: list[JsonObject] = field(default_factory=list)
    final: JsonObject | None = None
    #: `response.created` and `response.in_progress` are 0 and 1: the stream commits (and sends
    #: them) only once the first visible event has been translated.
    _sequence: int = 1
    _open: _OpenItem | None = None

    def snapshot(self, status: str, usage: Usage | None = None) -> JsonObject:
        return {**self.head, "status": status, "output": self.output, "usage": usage_json(usage)}

    def opening(self) -> bytes:
        created = {**self.head, "status": "in_progress", "output": [], "usage": None}
        return _encode("response.created", {"response": created}, 0) + _encode(
            "response.in_progress", {"response": created}, 1
        )

    def frame(self, event: object) -> bytes | None:
        if isinstance(event, ResultDelta) and event.text:
            return self._delta("message", event.text)
        if isinstance(event, ThinkingStreamed) and event.text:
            return self._delta("reasoning", event.text)
        return None

    def closing(self, report: TurnReport | None, failure: Failure | None) -> list[bytes]:
        """The frames that end the stream (the response is `final` when it completed)."""
        usage = report.usage if report else None
        frames = [self._close_open("incomplete" if failure else "completed")]
        if failure is not None:
            failed = {**self.snapshot("failed", usage), "error": _in_band_error(failure)}
            frames.append(self._event("response.failed", {"response": failed}))
            return [frame for frame in frames if frame]
        calls = report.host_calls if report else ()
        frames.extend(self._function_calls(calls))
        self.final = {**self.snapshot("completed", usage), "completed_at": int(time.time())}
        frames.append(self._event("response.completed", {"response": self.final}))
        return [frame for frame in frames if frame]

    def finish(self, report: TurnReport) -> JsonObject:
        """The completed response of a turn that ended without a failure (buffered path)."""
        self.closing(report, None)
        assert self.final is not None
        return self.final

    def _delta(self, kind: str, text: str) -> bytes | None:
        opened = b""
        if self._open is None or self._open.kind != kind:
            opened = self._close_open() + self._start(kind)
        item = self._open
        assert item is not None
        item.texts.append(text)
        if not self.streaming:
            return None
        self._sequence += 1
        tail = b',"sequence_number":' + str(self._sequence).encode() + b"}\n\n"
        return opened + item.prefix + orjson.dumps(text) + tail

    def _start(self, kind: str) -> bytes:
        index = len(self.output)
        if kind == "message":
            item = _OpenItem(kind, new_id("msg"), index)
            added: JsonObject = {"type": "message", "role": "assistant", "content": []}
            part_event = "response.content_part.added"
            part: JsonObject = {"content_index": 0}
            part["part"] = {"type": "output_text", "text": "", "annotations": []}
            delta_type = "response.output_text.delta"
            delta_head: JsonObject = {"content_index": 0, "logprobs": []}
        else:
            item = _OpenItem(kind, new_id("rs"), index)
            added = {"type": "reasoning", "summary": []}
            part_event = "response.reasoning_summary_part.added"
            part = {"summary_index": 0}
            part["part"] = {"type": "summary_text", "text": ""}
            delta_type = "response.reasoning_summary_text.delta"
            delta_head = {"summary_index": 0}
        self._open = item
        self.output.append({"id": item.id, **added, "status": "in_progress"})
        if not self.streaming:
            return b""
        where = {"item_id": item.id, "output_index": index}
        head = {"type": delta_type, **where, **delta_head}
        item.prefix = (
            b"event: " + delta_type.encode() + b"\ndata: " + orjson.dumps(head)[:-1] + b',"delta":'
        )
        return self._event(
            "response.output_item.added", {"output_index": index, "item": self.output[index]}
        ) + self._event(part_event, {**where, **part})

    def _close_open(self, status: str = "completed") -> bytes:
        item, self._open = self._open, None
        if item is None:
            return b""
        text = "".join(item.texts)
        where = {"item_id": item.id, "output_index": item.index}
        if item.kind == "message":
            part = {"type": "output_text", "text": text, "annotations": []}
            done = {**self.output[item.index], "status": status, "content": [part]}
            events = [
                ("response.output_text.done", {**where, "content_index": 0, "text": text}),
                ("response.content_part.done", {**where, "content_index": 0, "part": part}),
            ]
            events[0][1]["logprobs"] = []
        else:
            part = {"type": "summary_text", "text": text}
            done = {**self.output[item.index], "status": status, "summary": [part]}
            events = [
                (
                    "response.reasoning_summary_text.done",
                    {**where, "summary_index": 0, "text": text},
                ),
                (
                    "response.reasoning_summary_part.done",
                    {**where, "summary_index": 0, "part": part},
                ),
            ]
        self.output[item.index] = done
        events.append(("response.output_item.done", {"output_index": item.index, "item": done}))
        return b"".join(self._event(name, body) for name, body in events)

    def _function_calls(self, calls: Sequence[ToolCall]) -> list[bytes]:
        frames = []
        for call, call_id in zip(calls, client_call_ids(calls), strict=True):
            item = function_call_item(call, call_id)
            index = len(self.output)
            self.output.append(item)
            where = {"item_id": item["id"], "output_index": index}
            started = {**item, "status": "in_progress", "arguments": ""}
            arguments = item["arguments"]
            frames.append(
                self._event("response.output_item.added", {"output_index": index, "item": started})
                + self._event(
                    "response.function_call_arguments.delta", {**where, "delta": arguments}
                )
                + self._event(
                    "response.function_call_arguments.done",
                    {**where, "name": item["name"], "arguments": arguments},
                )
                + self._event("response.output_item.done", {"output_index": index, "item": item})
            )
        return frames

    def _event(self, name: str, body: JsonObject) -> bytes:
        if not self.streaming:
            return b""
        self._sequence += 1
        return _encode(name, body, self._sequence)


def _encode(name: str, body: JsonObject, sequence: int) -> bytes:
    payload = orjson.dumps({"type": name, **body, "sequence_number": sequence})
    return b"event: " + name.encode() + b"\ndata: " + payload + b"\n\n"
