"""What the file and PostgreSQL backends derive the same way from what each stores."""

from __future__ import annotations

from typing import TypeVar

from amplifier_agent.core.errors import SessionError
from amplifier_agent.store import ids
from amplifier_agent.store.metadata import SessionMetadata

_Found = TypeVar("_Found")


class CountsTurns:
    """A session's turn count and next turn id, read from its metadata."""

    __slots__ = ()

    def read_metadata(self) -> SessionMetadata | None:
        raise NotImplementedError

    def turns(self) -> int:
        """How many turns have ended in this session."""
        metadata = self.read_metadata()
        return 0 if metadata is None else metadata.turns

    def next_turn_id(self) -> str:
        """The id of the turn about to run: `turn-<turns + 1>`."""
        return turn_after(self.read_metadata())


def turn_after(metadata: SessionMetadata | None) -> str:
    """The id of the turn that follows those `metadata` counts (`turn-1` for a new session)."""
    return ids.turn_id((0 if metadata is None else metadata.turns) + 1)


def found_or_missing(session: _Found | None, session_id: str) -> _Found:
    """The existing session `--resume` asked for; found nowhere → `session_not_found`."""
    if session is None:
        raise SessionError(
            f"session {session_id!r} was not found in any workspace", code="session_not_found"
        )
    return session
