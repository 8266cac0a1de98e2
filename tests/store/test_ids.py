"""Session id grammar, traversal-safe session directories and turn ids (SPEC §2.3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from amplifier_agent.core.errors import SessionError
from amplifier_agent.store.ids import (
    HTTP_SESSION_PREFIX,
    session_dir,
    turn_id,
    validate_session_id,
    validate_turn_id,
)


@pytest.mark.parametrize(
    "value", ["s1", "abc-DEF_0.9:x", "http-123", "a" * 128, ".a", "..x", "a..b", ":"]
)
def test_valid_session_ids_pass(value: str) -> None:
    assert validate_session_id(value) == value


@pytest.mark.parametrize(
    "value",
    ["", ".", "..", "...", "../x", "a/b", "/abs", "a\\b", "a" * 129, "sp ace", "é", "a\nb", "x\0"],
)
def test_invalid_session_ids_raise_invalid_session(value: str) -> None:
    with pytest.raises(SessionError) as info:
        validate_session_id(value)
    assert info.value.code == "invalid_session"


def test_session_dir_joins_a_valid_id(workdir: Path) -> None:
    assert session_dir(workdir / "sessions", "s1") == workdir / "sessions" / "s1"


@pytest.mark.parametrize("value", ["..", "../x", "a/b", "a" * 129])
def test_session_dir_rejects_traversal(workdir: Path, value: str) -> None:
    with pytest.raises(SessionError) as info:
        session_dir(workdir / "sessions", value)
    assert info.value.code == "invalid_session"


def test_a_face_prefix_does_not_count_against_the_client_id(workdir: Path) -> None:
    longest = HTTP_SESSION_PREFIX + "a" * 128
    assert session_dir(workdir / "sessions", longest) == workdir / "sessions" / longest


@pytest.mark.parametrize(
    "value", [HTTP_SESSION_PREFIX + "a" * 129, HTTP_SESSION_PREFIX + "../x", "x" + "a" * 133]
)
def test_a_prefixed_name_still_needs_a_valid_id(workdir: Path, value: str) -> None:
    with pytest.raises(SessionError) as info:
        session_dir(workdir / "sessions", value)
    assert info.value.code == "invalid_session"


@pytest.mark.parametrize("target", ["outside", "sessions"])
def test_session_dir_rejects_a_symlink_that_leaves_sessions(workdir: Path, target: str) -> None:
    sessions = workdir / "sessions"
    sessions.mkdir()
    (workdir / "outside").mkdir()
    (sessions / "evil").symlink_to(workdir / target)
    with pytest.raises(SessionError) as info:
        session_dir(sessions, "evil")
    assert info.value.code == "invalid_session"


def test_turn_ids_are_one_based() -> None:
    assert [turn_id(n) for n in (1, 2, 10)] == ["turn-1", "turn-2", "turn-10"]
    with pytest.raises(ValueError):
        turn_id(0)


@pytest.mark.parametrize("value", ["turn-0", "turn-", "../turn-1", "turn-1.json", "x"])
def test_validate_turn_id_rejects_anything_else(value: str) -> None:
    with pytest.raises(ValueError):
        validate_turn_id(value)


def test_session_dir_accepts_a_symlink_to_another_session_directory(workdir: Path) -> None:
    sessions = workdir / "sessions"
    (sessions / "real").mkdir(parents=True)
    (sessions / "alias").symlink_to(sessions / "real")
    assert session_dir(sessions, "alias") == sessions / "alias"
