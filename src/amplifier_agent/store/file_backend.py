"""The default store: session directories and the ledger file under the state root. Only one
process writes a session at a time (the server holds `serve.lock`), so its lock lives in memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from amplifier_agent.store.file_transfer import dump_files, dump_response_files, restore_files
from amplifier_agent.store.ledger import LedgerRecord, append_ledger, read_ledger
from amplifier_agent.store.protocol import SessionLease, StoredSession
from amplifier_agent.store.sessions import SessionStore
from amplifier_agent.store.transfer import ResponseDump, SessionDump


class _NoLease:
    def release(self) -> None:
        return None


_NO_LEASE = _NoLease()


class FileBackend:
    shared = False

    def __init__(self, workspaces_root: Path, ledger_path: Path) -> None:
        self.workspaces_root = workspaces_root
        self.ledger_path = ledger_path

    def describe(self) -> str:
        return f"files under {self.workspaces_root.parent}"

    def sessions(self, workspace: str) -> SessionStore:
        return SessionStore(self.workspaces_root, workspace)

    def end_turn(self, session: StoredSession | None, record: LedgerRecord) -> None:
        # Every session write of the turn is already on disk: files commit as they go.
        append_ledger(self.ledger_path, record)

    def append_ledger(self, record: LedgerRecord) -> bool:
        return append_ledger(self.ledger_path, record)

    def read_ledger(self) -> list[LedgerRecord]:
        return read_ledger(self.ledger_path)

    def dump_sessions(self) -> Iterator[SessionDump]:
        return dump_files(self.workspaces_root)

    def restore_session(self, dump: SessionDump) -> None:
        restore_files(self.workspaces_root, dump)

    def dump_responses(self) -> Iterator[ResponseDump]:
        return dump_response_files(self.workspaces_root)

    def try_lock(self, workspace: str, session_id: str) -> SessionLease | None:
        return _NO_LEASE

    def close(self) -> None:
        return None
