"""NDJSON framing (SPEC §10.1): one compact UTF-8 JSON object per `\\n`-terminated line.

Readers skip, and log, every line that is not a JSON object: a host's stream may interleave other
output, and one bad line must not end the conversation.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

import orjson

log = logging.getLogger(__name__)

#: How much of a skipped line the log shows.
_PREVIEW_CHARS = 120


def encode(message: Mapping[str, Any]) -> bytes:
    """One frame: compact JSON (UTF-8, no spaces) and a trailing newline.

    orjson never emits a raw newline inside a document (control characters in strings are
    escaped), so the frame is always exactly one line.
    """
    if not isinstance(message, Mapping):
        raise TypeError(f"a frame must be a JSON object, not {type(message).__name__}")
    return orjson.dumps(message) + b"\n"


def decode_line(line: bytes | str) -> dict[str, Any] | None:
    """The object on one line, or None (logged) when the line is not a JSON object.

    Blank lines are skipped silently; a trailing `\\r` is tolerated.
    """
    text = line.strip()
    if not text:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        log.warning("skipped a line that is not JSON (%s): %s", exc, _preview(text))
        return None
    if not isinstance(value, dict):
        log.warning("skipped a JSON line that is not an object: %s", _preview(text))
        return None
    return value


def _preview(text: bytes | str) -> str:
    shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return shown if len(shown) <= _PREVIEW_CHARS else shown[:_PREVIEW_CHARS] + "..."


def iter_messages(lines: Iterable[bytes | str]) -> Iterator[dict[str, Any]]:
    """The objects of an NDJSON line stream, skipping non-object lines."""
    for line in lines:
        message = decode_line(line)
        if message is not None:
            yield message


async def aiter_messages(lines: AsyncIterable[bytes | str]) -> AsyncIterator[dict[str, Any]]:
    """`iter_messages` over an async line source (an `asyncio.StreamReader` iterates lines)."""
    async for line in lines:
        message = decode_line(line)
        if message is not None:
            yield message


class FrameBuffer:
    """Frames from arbitrary chunks of a byte stream: a line split across chunks is kept until
    its newline arrives; `close()` decodes an unterminated last line."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        return list(iter_messages(lines))

    def close(self) -> list[dict[str, Any]]:
        pending, self._pending = self._pending, b""
        return list(iter_messages([pending]))


__all__ = ["FrameBuffer", "aiter_messages", "decode_line", "encode", "iter_messages"]
