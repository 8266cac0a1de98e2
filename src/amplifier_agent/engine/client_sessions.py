"""Sessions whose client holds the conversation (the HTTP face): every request carries the whole
history, reconciled with the stored transcript before the model is called; one request per
session at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from amplifier_agent.core.messages import Message
from amplifier_agent.engine.open_sessions import SessionBusy
from amplifier_agent.store.ids import HTTP_SESSION_PREFIX
from amplifier_agent.store.protocol import Sessions, StoredSession
from amplifier_agent.store.repair import repair
from amplifier_agent.store.session_common import turn_after


@dataclass(frozen=True, slots=True)
class PreparedSession:
    """A request's session (None without one), the history its turn starts from, whether the
    client's view diverged from the stored one, the turn's id, and what the session's earlier
    turns cost (so the turn itself need not read the session again)."""

    session: StoredSession | None
    history: list[Message]
    diverged: bool
    turn_id: str
    cost_base: Decimal | None = Decimal(0)


def without_session(history: Sequence[Message]) -> PreparedSession:
    repaired, _ = repair(history)
    return PreparedSession(None, repaired, False, "turn-1")


def prepared_from(
    session: StoredSession, history: list[Message], diverged: bool, turn_id: str | None = None
) -> PreparedSession:
    """`session` ready for a turn: one metadata read gives the next turn id (unless the face
    chose one) and the cost so far."""
    metadata = session.read_metadata()
    cost_base = Decimal(0) if metadata is None else metadata.cost_usd_total
    return PreparedSession(session, history, diverged, turn_id or turn_after(metadata), cost_base)


def prepare(
    store: Sessions, session_id: str, cwd: Path, history: Sequence[Message]
) -> PreparedSession:
    """The client's view of the history wins, and what it adds is stored before the model is
    called. Reads and writes the store: a server runs it on its writer thread."""
    # Imported here: faces whose sessions are opened by id (`run`, the wire) never reconcile.
    from amplifier_agent.store.reconcile import reconcile

    stored_id = HTTP_SESSION_PREFIX + session_id
    session = store.find(stored_id) or store.create(stored_id, str(cwd))
    stored = session.load() if session.has_transcript() else []
    merged = reconcile(stored, history)
    repaired, report = repair(merged.history)
    if merged.diverged or report.changed:
        session.rewrite(repaired)
    elif merged.appended:
        session.append(merged.appended)
    return prepared_from(session, repaired, merged.diverged)


class SessionLocks:
    """One request per client session at a time; a second one is `session_busy`."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(self, session_id: str | None) -> AsyncIterator[None]:
        if session_id is None:
            yield
            return
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        if lock.locked():
            raise SessionBusy(f"session '{session_id}' is busy with another request")
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._locks.get(session_id) is lock:
                del self._locks[session_id]
