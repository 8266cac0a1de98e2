"""SessionStore and Session: ids, lookup order, create/delete, persistence and private modes."""

from __future__ import annotations

import stat
from decimal import Decimal
from pathlib import Path

import pytest

from amplifier_agent.core.errors import SessionError
from amplifier_agent.core.messages import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from amplifier_agent.core.usage import Usage
from amplifier_agent.store.audit import AuditRecord
from amplifier_agent.store.sessions import SessionStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def root(workdir: Path) -> Path:
    return workdir / "state" / "workspaces"


def test_create_makes_private_dirs_and_metadata(root: Path) -> None:
    store = SessionStore(root, "ws-a")
    session = store.create("s1", "/home/u/proj")
    assert session.directory == root / "ws-a" / "sessions" / "s1"
    for directory in (root, root / "ws-a", root / "ws-a" / "sessions", session.directory):
        assert mode(directory) == 0o700
    assert mode(session.metadata_path) == 0o600
    metadata = session.read_metadata()
    assert metadata is not None
    assert (metadata.session_id, metadata.workspace, metadata.cwd) == ("s1", "ws-a", "/home/u/proj")
    assert metadata.turns == 0 and metadata.last_turn is None


def test_create_never_truncates(root: Path) -> None:
    store = SessionStore(root, "ws")
    session = store.create("s1", "/w")
    session.append([UserMessage("keep me")])
    session.update_metadata(Usage(1, 1), "complete")
    again = store.create("s1", "/elsewhere")
    assert again.load() == [UserMessage("keep me")]
    metadata = again.read_metadata()
    assert metadata is not None and metadata.turns == 1 and metadata.cwd == "/w"


@pytest.mark.parametrize("bad", ["..", "../x", "a/b", ".", "x" * 129])
def test_every_entry_point_rejects_bad_ids(root: Path, bad: str) -> None:
    store = SessionStore(root, "ws")
    for action in (
        lambda: store.find(bad),
        lambda: store.create(bad, "/w"),
        lambda: store.delete(bad),
        lambda: store.load(bad),
        lambda: store.append(bad, [UserMessage("x")]),
    ):
        with pytest.raises(SessionError) as info:
            action()
        assert info.value.code == "invalid_session"
    assert not root.exists()


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b"])
def test_store_rejects_a_workspace_that_is_not_one_component(root: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        SessionStore(root, bad)


def test_find_prefers_the_current_workspace_then_others_in_name_order(root: Path) -> None:
    for workspace in ("ws-b", "ws-c"):
        SessionStore(root, workspace).create("s1", "/w").append([UserMessage(workspace)])
    SessionStore(root, "ws-a").create("s1", "/w")  # no transcript: does not count
    store_a = SessionStore(root, "ws-a")
    found = store_a.find("s1")
    assert found is not None and found.workspace == "ws-b"
    assert store_a.load("s1") == [UserMessage("ws-b")]
    store_c = SessionStore(root, "ws-c")
    found_c = store_c.find("s1")
    assert found_c is not None and found_c.workspace == "ws-c"
    assert store_a.exists("s1") and not store_a.exists("s2")


def test_open_of_an_unknown_id_is_session_not_found(root: Path) -> None:
    with pytest.raises(SessionError) as info:
        SessionStore(root, "ws").open("nope")
    assert info.value.code == "session_not_found"


def test_open_or_create_resumes_or_starts(root: Path) -> None:
    SessionStore(root, "other").create("s1", "/w").append([UserMessage("old")])
    store = SessionStore(root, "ws")
    resumed = store.open_or_create("s1", "/w")
    assert resumed.workspace == "other" and resumed.load() == [UserMessage("old")]
    fresh = store.open_or_create("s2", "/w")
    assert fresh.workspace == "ws" and fresh.load() == []


def test_delete_removes_only_the_current_workspace_session(root: Path) -> None:
    SessionStore(root, "other").create("s1", "/w").append([UserMessage("there")])
    store = SessionStore(root, "ws")
    store.create("s1", "/w").append([UserMessage("here")])
    assert store.delete("s1") is True
    assert not store.session_dir("s1").exists()
    assert store.delete("s1") is False
    assert SessionStore(root, "other").load("s1") == [UserMessage("there")]


def test_writes_of_a_resumed_session_go_where_it_was_found(root: Path) -> None:
    SessionStore(root, "other").create("s1", "/w").append([UserMessage("one")])
    store = SessionStore(root, "ws")
    store.append("s1", [UserMessage("two")])
    store.update_metadata("s1", Usage(1, 2, cost_usd=Decimal("0.1")), "complete")
    assert SessionStore(root, "other").load("s1") == [UserMessage("one"), UserMessage("two")]
    assert not store.session_dir("s1").exists()


def test_a_session_directory_here_wins_over_a_transcript_elsewhere(root: Path) -> None:
    SessionStore(root, "other").create("s1", "/w").append([UserMessage("there")])
    store = SessionStore(root, "ws")
    store.create("s1", "/w")  # started here (for example after --fresh), no transcript yet
    store.append("s1", [UserMessage("here")])
    assert SessionStore(root, "other").load("s1") == [UserMessage("there")]
    assert store.load("s1") == [UserMessage("here")]


def test_unreadable_transcript_is_stale_session(root: Path) -> None:
    store = SessionStore(root, "ws")
    session = store.create("s1", "/w")
    session.transcript_path.mkdir()  # root can read any file, but never a directory as one
    with pytest.raises(SessionError) as info:
        store.load("s1")
    assert info.value.code == "stale_session"


def test_transcript_modes_are_private(root: Path) -> None:
    session = SessionStore(root, "ws").create("s1", "/w")
    session.append([UserMessage("x")])
    assert mode(session.transcript_path) == 0o600
    session.rewrite([UserMessage("y")])
    assert mode(session.transcript_path) == 0o600
    assert session.load() == [UserMessage("y")]


def test_turn_ids_follow_the_turn_count(root: Path) -> None:
    session = SessionStore(root, "ws").create("s1", "/w")
    assert session.next_turn_id() == "turn-1"
    session.update_metadata(Usage(1, 1), "complete")
    session.update_metadata(Usage(1, 1, cost_usd=None), "failed")
    assert session.next_turn_id() == "turn-3"
    metadata = session.read_metadata()
    assert metadata is not None and metadata.cost_usd_total is None


def test_set_last_turn_changes_only_the_status(root: Path) -> None:
    session = SessionStore(root, "ws").create("s1", "/w")
    session.update_metadata(Usage(5, 6, cost_usd=Decimal("0.2")), "complete")
    updated = session.set_last_turn("client_reconciled")
    assert updated.last_turn == "client_reconciled"
    assert (updated.turns, updated.tokens_in_total, updated.cost_usd_total) == (
        1,
        5,
        Decimal("0.2"),
    )


def test_load_repaired_fixes_and_persists_the_transcript(root: Path) -> None:
    session = SessionStore(root, "ws").create("s1", "/w")
    broken: list[Message] = [
        UserMessage("a"),
        UserMessage("b"),
        AssistantMessage("", tool_calls=(ToolCall("c1", "bash", {}),), interrupted=True),
    ]
    session.append(broken)
    history, report = session.load_repaired()
    assert report.merged == 1 and report.synthesized == 1
    assert history[0] == UserMessage("a\n\nb")
    assert isinstance(history[2], ToolMessage) and history[2].is_error
    assert session.load() == history
    _, second = session.load_repaired()
    assert not second.changed


def test_write_audit_lands_in_the_session(root: Path) -> None:
    store = SessionStore(root, "ws")
    store.create("s1", "/w").append([UserMessage("x")])
    record = AuditRecord("sha256:a", "sha256:e", "0.3.0", 0, "cid", "t0", "t1")
    path = store.write_audit("s1", "turn-1", record)
    assert path == store.session_dir("s1") / "audits" / "turn-1.json"
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_a_stored_response_is_one_private_json_file_in_the_workspace(root: Path) -> None:
    response_id = "resp_" + "ab" * 16
    SessionStore(root, "ws").save_response(response_id, {"text": "héllo", "input": []})
    path = root / "ws" / "responses" / f"{response_id}.json"
    assert path.read_bytes() == '{"text": "héllo", "input": []}'.encode()
    assert mode(path) == 0o600
