"""The store interface both backends satisfy: a `StoreBackend` (one per process) hands out one
workspace's `Sessions`, records the end of a turn with its ledger line, and takes the per-session
lock that keeps two turns of one session apart.

Contract of a turn's writes: what a `StoredSession` is told during a turn (`append`, `rewrite`,
`update_metadata`) becomes durable no later than `end_turn`, and a backend that can make it so
commits those writes and the ledger line together. Reads see the session's own pending writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from amplifier_agent.core.messages import Message
from amplifier_agent.core.usage import Usage
from amplifier_agent.store.audit import AuditRecord
from amplifier_agent.store.ledger import LedgerRecord
from amplifier_agent.store.metadata import LastTurn, SessionMetadata
from amplifier_agent.store.repair import RepairReport
from amplifier_agent.store.transfer import ResponseDump, SessionDump


class StoredSession(Protocol):
    """One session of one workspace."""

    @property
    def session_id(self) -> str: ...

    @property
    def workspace(self) -> str: ...

    def has_transcript(self) -> bool: ...

    def load(self) -> list[Message]: ...

    def load_repaired(self) -> tuple[list[Message], RepairReport]: ...

    def append(self, messages: list[Message]) -> None: ...

    def rewrite(self, messages: list[Message]) -> None: ...

    def read_metadata(self) -> SessionMetadata | None: ...

    def turns(self) -> int: ...

    def next_turn_id(self) -> str: ...

    def update_metadata(
        self, usage: Usage, status: LastTurn, *, cwd: str | None = None
    ) -> SessionMetadata: ...

    def set_last_turn(self, status: LastTurn, *, cwd: str | None = None) -> SessionMetadata: ...

    def write_audit(self, turn_id: str, record: AuditRecord) -> object: ...


class Sessions(Protocol):
    """The sessions seen from one workspace; lookups search it first, then the others."""

    @property
    def workspace(self) -> str: ...

    def find(self, session_id: str) -> StoredSession | None: ...

    def create(self, session_id: str, cwd: str) -> StoredSession: ...

    def open_or_create(self, session_id: str, cwd: str) -> StoredSession: ...

    def delete(self, session_id: str) -> bool: ...

    def exists(self, session_id: str) -> bool: ...

    def occupied(self, session_id: str) -> bool:
        """Whether anything (even an empty session) holds this id in the current workspace."""
        ...

    def save_response(self, response_id: str, record: dict[str, Any]) -> None:
        """Keep a stored Response (`store: true`) of this workspace, replacing one of the same
        id; `ValueError` for an id this server does not mint."""
        ...

    def load_response(self, response_id: str) -> dict[str, Any] | None:
        """A stored Response of this workspace, or None for an id it does not hold."""
        ...


class SessionLease(Protocol):
    """A held per-session lock; `release` is idempotent."""

    def release(self) -> None: ...


class StoreBackend(Protocol):
    """The store of one process: files under the state root, or a shared database."""

    #: Whether other processes share this store, so a session lock must be taken in it.
    shared: bool

    def describe(self) -> str:
        """Where the store lives, safe to print (a URL's password is masked)."""
        ...

    def sessions(self, workspace: str) -> Sessions: ...

    def end_turn(self, session: StoredSession | None, record: LedgerRecord) -> None:
        """Make the turn's pending session writes durable together with its ledger line.

        A failure to store the session raises `StorageError` after the ledger line was still
        recorded where possible; a ledger-only failure is logged, never raised.
        """
        ...

    def append_ledger(self, record: LedgerRecord) -> bool: ...

    def read_ledger(self) -> list[LedgerRecord]: ...

    def dump_sessions(self) -> Iterator[SessionDump]:
        """Every session of every workspace, for `store export`."""
        ...

    def restore_session(self, dump: SessionDump) -> None:
        """Write one exported session, replacing what this store held under its id."""
        ...

    def dump_responses(self) -> Iterator[ResponseDump]:
        """Every stored Response of every workspace, for `store export` (an import writes them
        back through `Sessions.save_response`)."""
        ...

    def try_lock(self, workspace: str, session_id: str) -> SessionLease | None:
        """The session's lock when no one holds it, else None (busy)."""
        ...

    def close(self) -> None: ...
