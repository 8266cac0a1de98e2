"""The turn ledger: exact line fields, single-write appends, torn last lines, failures logged."""

from __future__ import annotations

import json
import logging
import stat
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from amplifier_agent.core.usage import Usage
from amplifier_agent.store.ledger import LedgerRecord, append_ledger, read_ledger


def record(n: int = 0, *, cost: Decimal | None = Decimal("0.0042")) -> LedgerRecord:
    return LedgerRecord.from_usage(
        Usage(100, 56, cache_read_tokens=1000, cache_write_tokens=4, cost_usd=cost),
        face="http",
        workspace="ws",
        session_id="http-abc",
        turn_id=f"turn-{n + 1}",
        request_id=f"req-{n}",
        status="completed",
        provider="anthropic",
        model="claude-sonnet-4-5",
        usage_estimated=False,
        duration_ms=2100,
        ts="2025-01-31T12:00:00.000Z",
    )


def test_line_has_the_exact_spec_fields_in_order(workdir: Path) -> None:
    path = workdir / "state" / "usage.jsonl"
    assert append_ledger(path, record())
    line = path.read_text()
    assert line.endswith("\n") and line.count("\n") == 1
    data = json.loads(line)
    assert list(data) == [
        "ts", "face", "workspace", "sessionId", "turnId", "requestId", "status", "provider",
        "model", "prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_write_tokens",
        "cost_usd", "usage_estimated", "duration_ms",
    ]  # fmt: skip
    assert data == {
        "ts": "2025-01-31T12:00:00.000Z",
        "face": "http",
        "workspace": "ws",
        "sessionId": "http-abc",
        "turnId": "turn-1",
        "requestId": "req-0",
        "status": "completed",
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "prompt_tokens": 1104,
        "completion_tokens": 56,
        "cache_read_tokens": 1000,
        "cache_write_tokens": 4,
        "cost_usd": "0.0042",
        "usage_estimated": False,
        "duration_ms": 2100,
    }


def test_unknown_cost_is_null(workdir: Path) -> None:
    path = workdir / "usage.jsonl"
    append_ledger(path, record(cost=None))
    assert json.loads(path.read_text())["cost_usd"] is None


def test_round_trip(workdir: Path) -> None:
    path = workdir / "usage.jsonl"
    records = [record(n) for n in range(3)]
    for item in records:
        append_ledger(path, item)
    assert read_ledger(path) == records


def test_modes_are_private(workdir: Path) -> None:
    path = workdir / "state" / "usage.jsonl"
    append_ledger(path, record())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_torn_last_line_is_ignored_without_a_warning(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = workdir / "usage.jsonl"
    append_ledger(path, record(0))
    append_ledger(path, record(1))
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 30])  # the second line loses its tail
    with caplog.at_level(logging.WARNING, logger="amplifier_agent.store.ledger"):
        assert read_ledger(path) == [record(0)]
    assert caplog.records == []


def test_complete_last_line_without_newline_is_kept(workdir: Path) -> None:
    path = workdir / "usage.jsonl"
    append_ledger(path, record(0))
    append_ledger(path, record(1))
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert read_ledger(path) == [record(0), record(1)]


def test_append_after_a_torn_line_is_readable(workdir: Path) -> None:
    path = workdir / "usage.jsonl"
    append_ledger(path, record(0))
    with path.open("ab") as handle:
        handle.write(b'{"ts":"2025')
    append_ledger(path, record(2))
    assert read_ledger(path) == [record(0), record(2)]


def test_garbage_middle_line_is_skipped_with_a_warning(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = workdir / "usage.jsonl"
    append_ledger(path, record(0))
    with path.open("ab") as handle:
        handle.write(b'{"face":"fax"}\n')
    append_ledger(path, record(1))
    with caplog.at_level(logging.WARNING, logger="amplifier_agent.store.ledger"):
        assert read_ledger(path) == [record(0), record(1)]
    assert any("line 2" in r.getMessage() for r in caplog.records)


def test_missing_ledger_reads_empty(workdir: Path) -> None:
    assert read_ledger(workdir / "usage.jsonl") == []


def test_append_failure_is_logged_not_raised(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = workdir / "usage.jsonl"
    path.mkdir()  # nothing can be appended to a directory
    with caplog.at_level(logging.WARNING, logger="amplifier_agent.store.ledger"):
        assert append_ledger(path, record()) is False
    assert any("turn ledger" in r.getMessage() for r in caplog.records)


def test_concurrent_appends_give_whole_lines(workdir: Path) -> None:
    path = workdir / "usage.jsonl"
    per_thread, threads_count = 50, 8

    def writer(n: int) -> None:
        for i in range(per_thread):
            append_ledger(path, record(n * 1000 + i))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    raw = path.read_text().splitlines()
    assert len(raw) == per_thread * threads_count
    parsed = [json.loads(line) for line in raw]  # any interleaving would break a line
    assert sorted(p["requestId"] for p in parsed) == sorted(
        f"req-{n * 1000 + i}" for n in range(threads_count) for i in range(per_thread)
    )
