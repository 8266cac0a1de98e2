"""metadata.json: exact fields, totals after turns, cost that turns null and stays null."""

from __future__ import annotations

import json
import stat
from decimal import Decimal
from pathlib import Path

import pytest

from amplifier_agent.core.errors import SessionError
from amplifier_agent.core.usage import Usage
from amplifier_agent.store.metadata import (
    new_metadata,
    read_metadata,
    write_metadata,
)

NOW = "2025-01-31T12:00:00.000Z"
LATER = "2025-01-31T12:05:00.000Z"


def test_new_metadata_has_the_exact_spec_fields() -> None:
    meta = new_metadata("s1", "-home-u-proj", "/home/u/proj", now=NOW)
    assert meta.to_json() == {
        "schema_version": 1,
        "sessionId": "s1",
        "workspace": "-home-u-proj",
        "cwd": "/home/u/proj",
        "createdAt": NOW,
        "updatedAt": NOW,
        "last_turn": None,
        "turns": 0,
        "tokensInTotal": 0,
        "tokensOutTotal": 0,
        "costUsdTotal": "0",
    }


def test_after_turn_sums_tokens_and_cost() -> None:
    meta = new_metadata("s1", "ws", "/w", now=NOW)
    meta = meta.after_turn(
        Usage(100, 20, cache_read_tokens=1000, cache_write_tokens=5, cost_usd=Decimal("0.0042")),
        "complete",
        now=LATER,
    )
    meta = meta.after_turn(Usage(1, 2, cost_usd=Decimal("0.0008")), "failed", now=LATER)
    data = meta.to_json()
    assert data["turns"] == 2
    assert data["tokensInTotal"] == 100 + 1000 + 5 + 1
    assert data["tokensOutTotal"] == 22
    assert data["costUsdTotal"] == "0.005"
    assert data["last_turn"] == "failed"
    assert data["createdAt"] == NOW and data["updatedAt"] == LATER


def test_unknown_cost_turns_the_total_null_for_good(workdir: Path) -> None:
    path = workdir / "metadata.json"
    meta = new_metadata("s1", "ws", "/w").after_turn(
        Usage(1, 1, cost_usd=Decimal("0.5")), "complete"
    )
    meta = meta.after_turn(Usage(1, 1, cost_usd=None), "complete")
    write_metadata(path, meta)
    assert json.loads(path.read_text())["costUsdTotal"] is None
    reread = read_metadata(path)
    assert reread is not None
    later = reread.after_turn(Usage(1, 1, cost_usd=Decimal("1")), "complete")
    write_metadata(path, later)
    assert json.loads(path.read_text())["costUsdTotal"] is None


def test_round_trip_through_disk(workdir: Path) -> None:
    path = workdir / "metadata.json"
    meta = new_metadata("s1", "ws", "/w").after_turn(
        Usage(3, 4, cost_usd=Decimal("0.10")), "client_disconnected"
    )
    write_metadata(path, meta)
    assert read_metadata(path) == meta


def test_file_is_0600_and_missing_is_none(workdir: Path) -> None:
    path = workdir / "deep" / "metadata.json"
    assert read_metadata(path) is None
    write_metadata(path, new_metadata("s1", "ws", "/w"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"schema_version": 2}',
        b"[]",
        b'{"schema_version":1,"sessionId":"s","workspace":"w","cwd":"/","createdAt":"t",'
        b'"updatedAt":"t","last_turn":"exploded","turns":0,"tokensInTotal":0,'
        b'"tokensOutTotal":0,"costUsdTotal":"0"}',
        b'{"schema_version":1,"sessionId":"s","workspace":"w","cwd":"/","createdAt":"t",'
        b'"updatedAt":"t","last_turn":null,"turns":0,"tokensInTotal":0,'
        b'"tokensOutTotal":0,"costUsdTotal":"abc"}',
    ],
)
def test_corrupt_metadata_is_stale_session(workdir: Path, content: bytes) -> None:
    path = workdir / "metadata.json"
    path.write_bytes(content)
    with pytest.raises(SessionError) as info:
        read_metadata(path)
    assert info.value.code == "stale_session"


def test_unreadable_metadata_is_stale_session(workdir: Path) -> None:
    path = workdir / "metadata.json"
    path.mkdir()
    with pytest.raises(SessionError) as info:
        read_metadata(path)
    assert info.value.code == "stale_session"
