"""NDJSON framing (SPEC §10.1): compact one-line frames; readers skip and log non-object lines."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest

from amplifier_agent.wire.framing import (
    FrameBuffer,
    aiter_messages,
    decode_line,
    encode,
    iter_messages,
)

NOTE = {"jsonrpc": "2.0", "method": "result/delta", "params": {"text": "héllo\nwörld ✓"}}


def test_a_frame_is_one_compact_utf8_line() -> None:
    frame = encode(NOTE)

    assert frame.endswith(b"\n") and frame.count(b"\n") == 1
    assert b": " not in frame and b", " not in frame
    assert "wörld ✓".encode() in frame
    assert json.loads(frame) == NOTE


def test_only_objects_are_frames() -> None:
    with pytest.raises(TypeError):
        encode([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "line",
    [b"not json", b"[1, 2]", b'"text"', b"42", b"null", b"{broken", b"\xff\xfe", "[engine] log"],
)
def test_non_object_lines_are_skipped_and_logged(
    line: bytes | str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="amplifier_agent.wire.framing"):
        assert decode_line(line) is None

    assert "skipped" in caplog.text


def test_blank_lines_are_skipped_quietly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert decode_line(b"\r\n") is None
        assert decode_line("   ") is None

    assert caplog.text == ""


def test_a_crlf_terminated_object_is_read() -> None:
    assert decode_line(b'{"a": 1}\r\n') == {"a": 1}


def test_iter_messages_keeps_only_the_objects_in_order() -> None:
    lines = [encode({"n": 1}), b"noise\n", "", encode({"n": 2}).decode(), b"[3]\n"]

    assert list(iter_messages(lines)) == [{"n": 1}, {"n": 2}]


async def test_aiter_messages_reads_a_stream_reader() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(encode({"n": 1}) + b"garbage\n" + encode({"n": 2}))
    reader.feed_eof()

    assert [m async for m in aiter_messages(reader)] == [{"n": 1}, {"n": 2}]


async def test_aiter_messages_accepts_any_async_line_source() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in ['{"a": 1}', "x", '{"b": 2}']:
            yield line

    assert [m async for m in aiter_messages(lines())] == [{"a": 1}, {"b": 2}]


def test_frame_buffer_joins_lines_split_across_chunks() -> None:
    data = encode({"n": 1}) + b"noise\n" + encode({"text": "é"})
    split = data.index("é".encode()) + 1  # inside the two-byte character
    buffer = FrameBuffer()

    first = buffer.feed(data[:5])
    second = buffer.feed(data[5:split])
    third = buffer.feed(data[split:])

    assert first == []
    assert second == [{"n": 1}]
    assert third == [{"text": "é"}]
    assert buffer.close() == []


def test_frame_buffer_close_reads_an_unterminated_last_line() -> None:
    buffer = FrameBuffer()

    assert buffer.feed(b'{"last": true}') == []
    assert buffer.close() == [{"last": True}]
    assert buffer.close() == []
