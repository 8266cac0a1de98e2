"""The byte ends of `serve stdio`: lines split across chunks, the line cap, whole frames."""

from __future__ import annotations

import json
import os
from pathlib import Path

from amplifier_agent.wire.stdio_io import FrameWriter, LineSplitter, Oversized


def test_lines_split_across_chunks_are_joined() -> None:
    splitter = LineSplitter(cap=64)

    assert splitter.feed(b'{"a":') == []
    assert splitter.feed(b'1}\n{"b":2}\n{"c"') == [b'{"a":1}', b'{"b":2}']
    assert splitter.close() == [b'{"c"']
    assert splitter.close() == []


def test_a_line_over_the_cap_is_reported_once_and_the_rest_of_it_dropped() -> None:
    splitter = LineSplitter(cap=8)

    assert splitter.feed(b"12345") == []
    assert splitter.feed(b"6789") == [Oversized(8)]
    assert splitter.feed(b"still the same line") == []
    assert splitter.feed(b"...\nok\n") == [b"ok"]
    assert splitter.feed(b"12345678\n") == [b"12345678"]


def test_an_unterminated_oversized_last_line_is_not_returned_at_close() -> None:
    splitter = LineSplitter(cap=4)

    assert splitter.feed(b"123456") == [Oversized(4)]
    assert splitter.close() == []


def test_the_writer_writes_each_frame_whole_and_in_order(tmp_path: Path) -> None:
    target = tmp_path / "out.ndjson"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT)
    writer = FrameWriter(fd)
    for index in range(200):
        writer.send({"index": index, "text": "x" * 1000})
    writer.close(timeout=5)
    os.close(fd)

    lines = target.read_bytes().splitlines()

    assert [json.loads(line)["index"] for line in lines] == list(range(200))
