"""transcript.jsonl: exact line shapes, tolerant loading, checkpoints and atomic rewrites."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from pathlib import Path

import pytest

from amplifier_agent.core.errors import SessionError, StorageError
from amplifier_agent.core.messages import (
    AssistantMessage,
    Message,
    ThinkingBlock,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from amplifier_agent.store.transcript import (
    append_messages,
    load_entries,
    load_transcript,
    rewrite_transcript,
)

TS = "2025-01-31T12:00:00.000Z"

CONVERSATION: list[Message] = [
    UserMessage("list files"),
    AssistantMessage(
        content="Looking.",
        thinking=(ThinkingBlock("need ls", "sig=="),),
        tool_calls=(
            ToolCall("c1", "bash", {"command": "ls"}),
            ToolCall("c2", "open_browser", {"url": "https://x"}, host=True),
        ),
    ),
    ToolMessage("c1", "bash", "a.txt", internal=True),
    ToolMessage("c2", "open_browser", "opened", is_error=True),
    AssistantMessage(content="partial ré", interrupted=True),
]


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_lines_have_the_exact_spec_shapes(workdir: Path) -> None:
    path = workdir / "transcript.jsonl"
    append_messages(path, CONVERSATION, ts=TS)
    assert lines(path) == [
        {"ts": TS, "role": "user", "content": "list files"},
        {
            "ts": TS,
            "role": "assistant",
            "content": "Looking.",
            "thinking": [{"text": "need ls", "signature": "sig=="}],
            "tool_calls": [
                {"id": "c1", "name": "bash", "arguments": {"command": "ls"}, "host": False},
                {
                    "id": "c2",
                    "name": "open_browser",
                    "arguments": {"url": "https://x"},
                    "host": True,
                },
            ],
        },
        {
            "ts": TS,
            "role": "tool",
            "tool_call_id": "c1",
            "name": "bash",
            "content": "a.txt",
            "is_error": False,
            "internal": True,
        },
        {
            "ts": TS,
            "role": "tool",
            "tool_call_id": "c2",
            "name": "open_browser",
            "content": "opened",
            "is_error": True,
            "internal": False,
        },
        {
            "ts": TS,
            "role": "assistant",
            "content": "partial ré",
            "thinking": [],
            "tool_calls": [],
            "interrupted": True,
        },
    ]


def test_lines_are_compact_json(workdir: Path) -> None:
    path = workdir / "transcript.jsonl"
    append_messages(path, [UserMessage("hi")], ts=TS)
    assert path.read_bytes() == b'{"ts":"2025-01-31T12:00:00.000Z","role":"user","content":"hi"}\n'


def test_round_trip_preserves_every_field(workdir: Path) -> None:
    path = workdir / "transcript.jsonl"
    append_messages(path, CONVERSATION)
    assert load_transcript(path) == CONVERSATION


def test_undecodable_arguments_keep_their_stored_shape_and_round_trip(workdir: Path) -> None:
    path = workdir / "transcript.jsonl"
    call = ToolCall("c1", "bash", {}, raw_arguments='{"command": ')
    append_messages(path, [AssistantMessage(tool_calls=(call,))], ts=TS)
    stored = lines(path)[0]["tool_calls"]
    assert stored == [
        {"id": "c1", "name": "bash", "arguments": {"_raw_arguments": '{"command": '}, "host": False}
    ]
    assert load_transcript(path) == [AssistantMessage(tool_calls=(call,))]


def test_default_ts_is_iso_utc(workdir: Path) -> None:
    path = workdir / "transcript.jsonl"
    append_messages(path, [UserMessage("hi")])
    (entry,) = load_entries(path)
    assert entry.ts.endswith("Z")
    assert entry.ts[:4].isdigit() and entry.ts[10] == "T"


def test_garbage_lines_are_skipped_with_a_warning(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = workdir / "transcript.jsonl"
    append_messages(path, [UserMessage("one")], ts=TS)
    with path.open("ab") as handle:
        handle.write(b"{not json\n")
        handle.write(b'{"role":"robot","content":"x"}\n')
        handle.write(b"\xff\xfe\n")
        handle.write(b'{"role":"tool","tool_call_id":"c","name":"n","content":5}\n')
    append_messages(path, [UserMessage("two")], ts=TS)
    with caplog.at_level(logging.WARNING, logger="amplifier_agent.store.transcript"):
        messages = load_transcript(path)
    assert messages == [UserMessage("one"), UserMessage("two")]
    assert len([r for r in caplog.records if "unparsable line" in r.getMessage()]) == 4


def test_null_assistant_content_loads_as_empty_text(workdir: Path) -> None:
    path = workdir / "transcript.jsonl"
    path.write_text(
        '{"role":"assistant","content":null,"tool_calls":[{"id":"c","name":"n","arguments":{}}]}\n'
    )
    assert load_transcript(path) == [
        AssistantMessage(content="", tool_calls=(ToolCall("c", "n", {}),))
    ]


def test_missing_file_is_an_empty_transcript(workdir: Path) -> None:
    assert load_transcript(workdir / "absent.jsonl") == []


def test_unreadable_transcript_is_stale_session(workdir: Path) -> None:
    path = workdir / "transcript.jsonl"
    path.mkdir()  # a directory where the file should be cannot be read, even by root
    with pytest.raises(SessionError) as info:
        load_transcript(path)
    assert info.value.code == "stale_session"


def test_append_failure_is_a_storage_error(workdir: Path) -> None:
    path = workdir / "transcript.jsonl"
    path.mkdir()
    with pytest.raises(StorageError) as info:
        append_messages(path, [UserMessage("x")])
    assert info.value.code == "storage_error"
    assert str(path) in info.value.message


def test_checkpoint_is_one_write_per_call(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[bytes] = []
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", counting_write)
    path = workdir / "transcript.jsonl"
    append_messages(path, CONVERSATION, ts=TS)
    assert len(writes) == 1
    assert writes[0].count(b"\n") == len(CONVERSATION)


def test_append_after_a_torn_line_keeps_the_new_message(workdir: Path) -> None:
    path = workdir / "transcript.jsonl"
    append_messages(path, [UserMessage("one")], ts=TS)
    with path.open("ab") as handle:
        handle.write(b'{"ts":"x","role":"us')
    append_messages(path, [UserMessage("two")], ts=TS)
    assert load_transcript(path) == [UserMessage("one"), UserMessage("two")]


def test_file_mode_is_0600(workdir: Path) -> None:
    path = workdir / "transcript.jsonl"
    append_messages(path, [UserMessage("x")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rewrite_transcript(path, [UserMessage("y")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rewrite_replaces_content_and_keeps_unchanged_prefix_timestamps(workdir: Path) -> None:
    path = workdir / "transcript.jsonl"
    append_messages(path, [UserMessage("a"), UserMessage("b"), UserMessage("c")], ts=TS)
    rewrite_transcript(path, [UserMessage("a"), UserMessage("B"), UserMessage("c")])
    entries = load_entries(path)
    assert [e.message for e in entries] == [UserMessage("a"), UserMessage("B"), UserMessage("c")]
    assert entries[0].ts == TS
    # After the first change nothing keeps its old stamp, even an equal message.
    assert entries[1].ts != TS and entries[2].ts != TS
    assert [p.name for p in workdir.iterdir()] == ["transcript.jsonl"]


def test_rewrite_failure_leaves_the_old_file(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = workdir / "transcript.jsonl"
    append_messages(path, [UserMessage("keep")], ts=TS)
    before = path.read_bytes()

    def failing_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StorageError) as info:
        rewrite_transcript(path, [UserMessage("new")])
    assert info.value.code == "storage_error"
    assert "No space left on device" in info.value.message
    assert path.read_bytes() == before
    assert [p.name for p in workdir.iterdir()] == ["transcript.jsonl"]


def test_concurrent_checkpoints_stay_whole(workdir: Path) -> None:
    path = workdir / "transcript.jsonl"
    big = "x" * 20_000

    def writer(n: int) -> None:
        for i in range(20):
            append_messages(path, [UserMessage(f"{n}-{i}-{big}"), UserMessage(f"{n}-{i}")])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    messages = load_transcript(path)
    assert len(messages) == 6 * 20 * 2
    # Each checkpoint's two lines stay together: one write per checkpoint.
    for first, second in zip(messages[::2], messages[1::2], strict=True):
        assert isinstance(first, UserMessage) and isinstance(second, UserMessage)
        assert first.content == f"{second.content}-{big}"
