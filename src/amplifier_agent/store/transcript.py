"""`transcript.jsonl` (SPEC §2.3): one canonical message per line with its `ts`; tolerant loading,
append-only checkpoints and atomic full rewrites."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amplifier_agent.core.errors import SessionError, storage_error
from amplifier_agent.core.messages import (
    AssistantMessage,
    Message,
    ThinkingBlock,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from amplifier_agent.store.files import append_bytes, atomic_write, utc_now

_LOG = logging.getLogger(__name__)

TRANSCRIPT_NAME = "transcript.jsonl"


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One transcript line: the message and when it was written (ISO UTC)."""

    ts: str
    message: Message


def message_to_dict(message: Message, ts: str) -> dict[str, Any]:
    """The on-disk shape of one message; `interrupted` appears only when it is set."""
    if isinstance(message, UserMessage):
        return {"ts": ts, "role": "user", "content": message.content}
    if isinstance(message, ToolMessage):
        return {
            "ts": ts,
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "name": message.name,
            "content": message.content,
            "is_error": message.is_error,
            "internal": message.internal,
        }
    line: dict[str, Any] = {
        "ts": ts,
        "role": "assistant",
        "content": message.content,
        "thinking": [{"text": b.text, "signature": b.signature} for b in message.thinking],
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.as_object(), "host": c.host}
            for c in message.tool_calls
        ],
    }
    if message.interrupted:
        line["interrupted"] = True
    return line


def encode_line(message: Message, ts: str) -> bytes:
    """One compact JSON line, newline-terminated."""
    text = json.dumps(message_to_dict(message, ts), ensure_ascii=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def message_from_dict(data: Any) -> Message:
    """The message a transcript line describes; raises `ValueError` on any other shape."""
    if not isinstance(data, dict):
        raise ValueError("a transcript line must be a JSON object")
    role = data.get("role")
    if role == "user":
        return UserMessage(content=_text(data, "content"))
    if role == "tool":
        return ToolMessage(
            tool_call_id=_text(data, "tool_call_id"),
            name=_text(data, "name"),
            content=_text(data, "content"),
            is_error=_flag(data, "is_error"),
            internal=_flag(data, "internal"),
        )
    if role == "assistant":
        return AssistantMessage(
            content=_text(data, "content"),
            thinking=tuple(_thinking(b) for b in _items(data, "thinking")),
            tool_calls=tuple(_tool_call(c) for c in _items(data, "tool_calls")),
            interrupted=_flag(data, "interrupted"),
        )
    raise ValueError(f"unknown role {role!r}")


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    # An assistant turn made only of tool calls may have been written with a null content.
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be a boolean")
    return value


def _items(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list")
    return value


def _thinking(block: Any) -> ThinkingBlock:
    if not isinstance(block, dict):
        raise ValueError("a thinking block must be an object")
    return ThinkingBlock(text=_text(block, "text"), signature=_text(block, "signature"))


def _tool_call(call: Any) -> ToolCall:
    if not isinstance(call, dict):
        raise ValueError("a tool call must be an object")
    arguments = call.get("arguments", {})
    if not isinstance(arguments, dict):
        raise ValueError("tool call arguments must be an object")
    identifier, name = _text(call, "id"), _text(call, "name")
    if not identifier or not name:
        raise ValueError("a tool call needs an id and a name")
    return ToolCall.from_object(identifier, name, arguments, host=_flag(call, "host"))


def load_entries(path: Path) -> list[TranscriptEntry]:
    """Every parsable line of a transcript; a missing file is an empty transcript.

    Unparsable lines are skipped with a warning. A file that exists but cannot be read raises
    `SessionError(code="stale_session")`.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SessionError(
            f"cannot read transcript {path}: {exc.strerror or exc}", code="stale_session"
        ) from exc
    entries: list[TranscriptEntry] = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            message = message_from_dict(data)
            ts = data.get("ts", "")
            entries.append(TranscriptEntry(ts=ts if isinstance(ts, str) else "", message=message))
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            _LOG.warning("skipping unparsable line %d of %s: %s", number, path, exc)
    return entries


def load_transcript(path: Path) -> list[Message]:
    """The messages of a transcript (see `load_entries`)."""
    return [entry.message for entry in load_entries(path)]


def append_messages(path: Path, messages: list[Message], *, ts: str | None = None) -> None:
    """One checkpoint: every message as a line, appended in a single write and fsynced."""
    if not messages:
        return
    stamp = ts or utc_now()
    data = b"".join(encode_line(message, stamp) for message in messages)
    try:
        append_bytes(path, data)
    except OSError as exc:
        raise storage_error("append to transcript", path, exc) from exc


def rewrite_transcript(path: Path, messages: list[Message]) -> None:
    """Replace the whole transcript atomically (after repair or reconciliation).

    Lines whose message is unchanged from the old file's leading run keep their `ts`; the rest
    are stamped now.
    """
    try:
        old = load_entries(path)
    except SessionError:
        old = []
    now = utc_now()
    lines: list[bytes] = []
    in_prefix = True
    for index, message in enumerate(messages):
        in_prefix = in_prefix and index < len(old) and old[index].message == message
        lines.append(encode_line(message, (old[index].ts or now) if in_prefix else now))
    try:
        atomic_write(path, b"".join(lines))
    except OSError as exc:
        raise storage_error("rewrite transcript", path, exc) from exc
