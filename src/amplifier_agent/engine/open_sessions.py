"""The sessions an engine service has open: resumed or started by id, used by turns, ended.

An ended id stays known, so using it again is `stale_session`; after `close` no session can be
used (`agent_not_ready`).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from amplifier_agent.core.errors import AmplifierError, SessionError
from amplifier_agent.engine.turn_types import OpenedSession
from amplifier_agent.store.ids import validate_session_id
from amplifier_agent.store.protocol import Sessions

#: `auto` resumes the session or starts it; `resume` requires it; `fresh` deletes it first;
#: `new` requires that it does not exist yet (an id is minted when none is given).
SessionMode = Literal["auto", "resume", "fresh", "new"]

MINTED_PREFIX = "sess-"


class SessionBusy(AmplifierError):
    code = "session_busy"


def mint_session_id() -> str:
    """`sess-<12 hex>`."""
    return MINTED_PREFIX + secrets.token_hex(6)


class OpenSessions:
    def __init__(self) -> None:
        self._live: dict[str, OpenedSession] = {}
        self._ended: set[str] = set()
        self.closed = False

    def open(
        self, store: Sessions, session_id: str | None, mode: SessionMode, cwd: Path
    ) -> OpenedSession:
        """The session `session_id` in `mode`; one already open stays as it is."""
        if mode == "new" or session_id is None:
            return self._create(store, session_id, cwd)
        self._check_not_ended(validate_session_id(session_id))
        if mode == "fresh":
            store.delete(session_id)
        found = store.find(session_id)
        if found is None and mode == "resume":
            raise SessionError(
                f"no session {session_id!r} in any workspace", code="session_not_found"
            )
        session = found or store.create(session_id, str(cwd))
        live = self._live.setdefault(session_id, OpenedSession(session, cwd))
        return OpenedSession(live.session, live.cwd, resumed=found is not None)

    def _create(self, store: Sessions, session_id: str | None, cwd: Path) -> OpenedSession:
        """A new session; a malformed or existing id is `invalid_session`."""
        if session_id is None:
            session_id = mint_session_id()
        validate_session_id(session_id)
        known = session_id in self._live or session_id in self._ended
        if known or store.occupied(session_id) or store.find(session_id):
            raise SessionError(f"session {session_id!r} already exists", code="invalid_session")
        opened = OpenedSession(store.create(session_id, str(cwd)), cwd)
        self._live[session_id] = opened
        return opened

    def live(self, session_id: str) -> OpenedSession:
        """The open session `session_id`, for a turn."""
        if self.closed:
            raise AmplifierError("the agent has shut down", code="agent_not_ready")
        self._check_not_ended(session_id)
        opened = self._live.get(session_id)
        if opened is None:
            raise SessionError(f"no open session {session_id!r}", code="session_not_found")
        return opened

    def end(self, session_id: str) -> None:
        """Later use of the id is `stale_session`; an unknown id is `session_not_found`."""
        self._check_not_ended(session_id)
        if self._live.pop(session_id, None) is None:
            raise SessionError(f"no open session {session_id!r}", code="session_not_found")
        self._ended.add(session_id)

    def close(self) -> None:
        """End every session; none can be used from now on."""
        self.closed = True
        self._ended.update(self._live)
        self._live.clear()

    def _check_not_ended(self, session_id: str) -> None:
        if session_id in self._ended:
            raise SessionError(f"session {session_id!r} has ended", code="stale_session")
