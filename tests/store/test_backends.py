"""The store contract, run against both backends (files and PostgreSQL) so they cannot drift."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from amplifier_agent.core.errors import SessionError
from amplifier_agent.core.messages import AssistantMessage, ToolCall, ToolMessage, UserMessage
from amplifier_agent.core.usage import Usage
from amplifier_agent.store.audit import AuditRecord
from amplifier_agent.store.backends import open_backend
from amplifier_agent.store.ledger import LedgerRecord
from amplifier_agent.store.protocol import StoreBackend

HISTORY = [
    UserMessage("héllo"),
    AssistantMessage(
        content="",
        tool_calls=(ToolCall.from_object("c1", "read", {"path": "a.txt"}),),
    ),
    ToolMessage("c1", "read", "contents", is_error=False),
    AssistantMessage(content="done"),
]


@pytest.fixture(params=["files", "postgresql"])
def backend(request: pytest.FixtureRequest, workdir: Path) -> Iterator[StoreBackend]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    opened = open_backend(url, workdir / "workspaces", workdir / "usage.jsonl")
    yield opened
    opened.close()


def ledger_line(session_id: str, turn: int, status: str = "completed") -> LedgerRecord:
    return LedgerRecord.from_usage(
        Usage(10, 5, cost_usd=Decimal("0.25")),
        face="http",
        workspace="ws",
        session_id=session_id,
        turn_id=f"turn-{turn}",
        request_id=f"req-{turn}",
        status=status,  # type: ignore[arg-type]
        provider="p",
        model="m",
        usage_estimated=False,
        duration_ms=7,
    )


def test_a_turn_round_trips_messages_metadata_and_ledger(backend: StoreBackend) -> None:
    sessions = backend.sessions("ws")
    session = sessions.create("s1", "/proj")
    assert sessions.find("s1") is None  # no transcript yet
    session.append(HISTORY[:2])
    session.append(HISTORY[2:])
    session.update_metadata(Usage(10, 5, cost_usd=Decimal("0.25")), "complete", cwd="/proj")
    line = ledger_line("s1", 1)
    backend.end_turn(session, line)

    found = backend.sessions("ws").find("s1")
    assert found is not None and found.has_transcript()
    assert found.load() == HISTORY
    metadata = found.read_metadata()
    assert metadata is not None
    assert (metadata.turns, metadata.last_turn, metadata.cwd) == (1, "complete", "/proj")
    assert metadata.cost_usd_total == Decimal("0.25")
    assert found.next_turn_id() == "turn-2"
    assert backend.read_ledger() == [line]


def test_rewrite_replaces_and_unknown_cost_stays_unknown(backend: StoreBackend) -> None:
    session = backend.sessions("ws").create("s1", "/p")
    session.append(HISTORY)
    session.update_metadata(Usage(1, 1), "complete")
    backend.end_turn(session, ledger_line("s1", 1))
    again = backend.sessions("ws").open_or_create("s1", "/p")
    again.rewrite([HISTORY[0], AssistantMessage(content="other", interrupted=True)])
    again.update_metadata(Usage(2, 3, cost_usd=None), "cancelled")
    backend.end_turn(again, ledger_line("s1", 2, "cancelled"))

    reread = backend.sessions("ws").open_or_create("s1", "/p")
    assert reread.load() == [HISTORY[0], AssistantMessage(content="other", interrupted=True)]
    metadata = reread.set_last_turn("client_reconciled")
    assert metadata.cost_usd_total is None and metadata.turns == 2
    final = backend.sessions("ws").find("s1")
    assert final is not None
    final_metadata = final.read_metadata()
    assert final_metadata is not None and final_metadata.last_turn == "client_reconciled"
    assert (final_metadata.tokens_in_total, final_metadata.tokens_out_total) == (3, 4)


def test_lookup_searches_the_current_workspace_first(backend: StoreBackend) -> None:
    for workspace in ("b-ws", "a-ws"):
        session = backend.sessions(workspace).create("shared", f"/{workspace}")
        session.append([UserMessage(workspace)])
        backend.end_turn(session, ledger_line("shared", 1))
    only_there = backend.sessions("c-ws").find("shared")
    assert only_there is not None and only_there.workspace == "a-ws"
    here = backend.sessions("b-ws").find("shared")
    assert here is not None and here.load() == [UserMessage("b-ws")]


def test_delete_and_occupied(backend: StoreBackend) -> None:
    sessions = backend.sessions("ws")
    assert not sessions.occupied("s1") and not sessions.delete("s1")
    session = sessions.create("s1", "/p")
    assert sessions.occupied("s1") and not sessions.exists("s1")
    session.append([UserMessage("x")])
    backend.end_turn(session, ledger_line("s1", 1))
    assert sessions.exists("s1")
    assert sessions.delete("s1")
    assert not sessions.exists("s1") and not sessions.occupied("s1")


@pytest.mark.parametrize("bad", ["..", "a/b", "x" * 129])
def test_bad_ids_are_refused(backend: StoreBackend, bad: str) -> None:
    with pytest.raises(SessionError) as caught:
        backend.sessions("ws").create(bad, "/p")
    assert caught.value.code == "invalid_session"


def test_audits_and_ledger_without_a_session(backend: StoreBackend) -> None:
    session = backend.sessions("ws").create("s1", "/p")
    record = AuditRecord.build(
        argv=["run"], env={}, protocol_version="0.3.0", exit_code=0,
        correlation_id="c", started_at="a", ended_at="b",
    )  # fmt: skip
    session.write_audit("turn-1", record)
    backend.end_turn(None, ledger_line("", 1))
    assert [line.session_id for line in backend.read_ledger()] == [""]


def test_one_session_object_across_turns_keeps_counting(backend: StoreBackend) -> None:
    """A long-lived face (`serve stdio`) keeps one session object for many turns."""
    session = backend.sessions("ws").create("s1", "/p")
    assert session.read_metadata() is not None
    for turn in (1, 2, 3):
        assert session.next_turn_id() == f"turn-{turn}"
        session.append([UserMessage(f"u{turn}")])
        session.update_metadata(Usage(10, 5), "complete")
        backend.end_turn(session, ledger_line("s1", turn))
    metadata = session.read_metadata()
    assert metadata is not None and (metadata.turns, metadata.tokens_in_total) == (3, 30)
    reread = backend.sessions("ws").find("s1")
    assert reread is not None and reread.read_metadata() == metadata
    assert reread.load() == [UserMessage("u1"), UserMessage("u2"), UserMessage("u3")]


RESPONSE_ID = "resp_" + "0123456789abcdef" * 2


def test_a_stored_response_round_trips_per_workspace(backend: StoreBackend) -> None:
    sessions = backend.sessions("ws")
    record = {"response": {"id": RESPONSE_ID, "output": [{"text": "héllo"}]}, "b": 1, "a": 2}
    assert sessions.load_response(RESPONSE_ID) is None
    sessions.save_response(RESPONSE_ID, record)
    loaded = sessions.load_response(RESPONSE_ID)
    assert loaded == record and list(loaded) == ["response", "b", "a"]  # key order kept
    sessions.save_response(RESPONSE_ID, {"replaced": True})
    assert backend.sessions("ws").load_response(RESPONSE_ID) == {"replaced": True}
    assert backend.sessions("other").load_response(RESPONSE_ID) is None


@pytest.mark.parametrize("bad_id", ["resp_../../etc", "resp_ABC", "", "sess_" + "0" * 32])
def test_a_response_id_not_minted_here_is_unknown_and_cannot_be_saved(
    backend: StoreBackend, bad_id: str
) -> None:
    sessions = backend.sessions("ws")
    assert sessions.load_response(bad_id) is None
    with pytest.raises(ValueError, match="not a response id"):
        sessions.save_response(bad_id, {"a": 1})
