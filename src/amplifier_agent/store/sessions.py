"""Sessions on disk (SPEC §2.3): `SessionStore` finds, creates and deletes session directories of
one workspace; a `Session` reads and writes one directory's transcript, metadata and audits."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amplifier_agent.core.errors import SessionError, storage_error
from amplifier_agent.core.messages import Message
from amplifier_agent.core.usage import Usage
from amplifier_agent.store import ids
from amplifier_agent.store.audit import AuditRecord, write_audit
from amplifier_agent.store.files import ensure_private_dir
from amplifier_agent.store.metadata import (
    METADATA_NAME,
    LastTurn,
    SessionMetadata,
    new_metadata,
    read_metadata,
    write_metadata,
)
from amplifier_agent.store.repair import RepairReport, repair
from amplifier_agent.store.responses import RESPONSES_DIR, load_response_file, save_response_file
from amplifier_agent.store.session_common import CountsTurns, found_or_missing
from amplifier_agent.store.transcript import (
    TRANSCRIPT_NAME,
    append_messages,
    load_transcript,
    rewrite_transcript,
)

_LOG = logging.getLogger(__name__)

SESSIONS_DIR = "sessions"


def _private_dir(directory: Path) -> None:
    """The session directory (0700, created with its parents); a failure is a `StorageError`."""
    try:
        ensure_private_dir(directory)
    except OSError as exc:
        raise storage_error("create session directory", directory, exc) from exc


@dataclass(frozen=True, slots=True)
class Session(CountsTurns):
    """One session directory; `workspace` is the workspace that holds it."""

    session_id: str
    workspace: str
    directory: Path

    @property
    def transcript_path(self) -> Path:
        return self.directory / TRANSCRIPT_NAME

    @property
    def metadata_path(self) -> Path:
        return self.directory / METADATA_NAME

    def has_transcript(self) -> bool:
        return self.transcript_path.exists()

    def load(self) -> list[Message]:
        """The stored messages; an unreadable transcript raises `stale_session`."""
        return load_transcript(self.transcript_path)

    def load_repaired(self) -> tuple[list[Message], RepairReport]:
        """The stored messages repaired (SPEC §8.9); a changed history is rewritten and logged."""
        history, report = repair(self.load())
        if report.changed:
            _LOG.warning("repaired session %s: %s", self.session_id, report.describe())
            self.rewrite(history)
        return history, report

    def append(self, messages: list[Message]) -> None:
        """One checkpoint: append `messages` in a single write."""
        _private_dir(self.directory)
        append_messages(self.transcript_path, messages)

    def rewrite(self, messages: list[Message]) -> None:
        """Replace the transcript atomically."""
        _private_dir(self.directory)
        rewrite_transcript(self.transcript_path, messages)

    def read_metadata(self) -> SessionMetadata | None:
        return read_metadata(self.metadata_path)

    def update_metadata(
        self, usage: Usage, status: LastTurn, *, cwd: str | None = None
    ) -> SessionMetadata:
        """Record one ended turn; missing metadata is started afresh with `cwd`."""
        current = self.read_metadata() or new_metadata(self.session_id, self.workspace, cwd or "")
        updated = current.after_turn(usage, status)
        write_metadata(self.metadata_path, updated)
        return updated

    def set_last_turn(self, status: LastTurn, *, cwd: str | None = None) -> SessionMetadata:
        """Change only `last_turn` (reconciliation marks `client_reconciled` this way)."""
        current = self.read_metadata() or new_metadata(self.session_id, self.workspace, cwd or "")
        updated = current.with_last_turn(status)
        write_metadata(self.metadata_path, updated)
        return updated

    def write_audit(self, turn_id: str, record: AuditRecord) -> Path:
        return write_audit(self.directory, turn_id, record)


class SessionStore:
    """Session directories `<workspaces_root>/<workspace>/sessions/<id>/`.

    Every id is validated (SPEC §2.3) before it touches a path. Lookups for resuming search the
    current workspace first, then the others in name order.
    """

    def __init__(self, workspaces_root: Path, workspace: str) -> None:
        if not workspace or "/" in workspace or "\\" in workspace or workspace.strip(".") == "":
            raise ValueError(f"workspace {workspace!r} is not a single path component")
        self.workspaces_root = workspaces_root
        self.workspace = workspace

    @property
    def sessions_dir(self) -> Path:
        return self.workspaces_root / self.workspace / SESSIONS_DIR

    def session_dir(self, session_id: str) -> Path:
        """The directory of `session_id` in the current workspace (validated)."""
        return ids.session_dir(self.sessions_dir, session_id)

    @property
    def responses_dir(self) -> Path:
        return self.workspaces_root / self.workspace / RESPONSES_DIR

    def save_response(self, response_id: str, record: dict[str, Any]) -> None:
        save_response_file(self.responses_dir, response_id, record)

    def load_response(self, response_id: str) -> dict[str, Any] | None:
        return load_response_file(self.responses_dir, response_id)

    def find(self, session_id: str) -> Session | None:
        """The first session directory holding a transcript: current workspace, then the others."""
        here = self.session_dir(session_id)
        if (here / TRANSCRIPT_NAME).exists():
            return Session(session_id, self.workspace, here)
        for workspace_dir in self._other_workspaces():
            try:
                there = ids.session_dir(workspace_dir / SESSIONS_DIR, session_id)
            except SessionError:
                continue
            if (there / TRANSCRIPT_NAME).exists():
                return Session(session_id, workspace_dir.name, there)
        return None

    def _other_workspaces(self) -> list[Path]:
        try:
            entries = sorted(os.scandir(self.workspaces_root), key=lambda entry: entry.name)
        except OSError:
            return []
        return [
            Path(entry.path)
            for entry in entries
            if entry.name != self.workspace and entry.is_dir(follow_symlinks=False)
        ]

    def occupied(self, session_id: str) -> bool:
        """Whether the current workspace holds a directory of this id (even an empty one)."""
        return self.session_dir(session_id).exists()

    def exists(self, session_id: str) -> bool:
        """Whether a transcript of `session_id` exists in any workspace."""
        return self.find(session_id) is not None

    def open(self, session_id: str) -> Session:
        """The existing session for `--resume`; found nowhere → `session_not_found`."""
        return found_or_missing(self.find(session_id), session_id)

    def create(self, session_id: str, cwd: str) -> Session:
        """A session directory in the current workspace; existing metadata is kept (never
        truncate), otherwise it is written with `cwd` and no turns."""
        directory = self.session_dir(session_id)
        _private_dir(directory)
        session = Session(session_id, self.workspace, directory)
        if session.read_metadata() is None:
            write_metadata(session.metadata_path, new_metadata(session_id, self.workspace, cwd))
        return session

    def open_or_create(self, session_id: str, cwd: str) -> Session:
        """Resume when a transcript exists anywhere, else start a new session (SPEC §7.2)."""
        return self.find(session_id) or self.create(session_id, cwd)

    def delete(self, session_id: str) -> bool:
        """Remove the session directory of the current workspace (`--fresh`); True if it existed."""
        directory = self.session_dir(session_id)
        try:
            if directory.is_symlink():
                directory.unlink()
            elif directory.exists():
                shutil.rmtree(directory)
            else:
                return False
        except OSError as exc:
            raise storage_error(f"delete session {session_id!r} at", directory, exc) from exc
        return True

    def load(self, session_id: str) -> list[Message]:
        """The messages of an existing session (see `open`)."""
        return self.open(session_id).load()

    def append(self, session_id: str, messages: list[Message]) -> None:
        self._locate(session_id).append(messages)

    def rewrite(self, session_id: str, messages: list[Message]) -> None:
        self._locate(session_id).rewrite(messages)

    def read_metadata(self, session_id: str) -> SessionMetadata | None:
        return self._locate(session_id).read_metadata()

    def update_metadata(
        self, session_id: str, usage: Usage, status: LastTurn, *, cwd: str | None = None
    ) -> SessionMetadata:
        return self._locate(session_id).update_metadata(usage, status, cwd=cwd)

    def write_audit(self, session_id: str, turn_id: str, record: AuditRecord) -> Path:
        return self._locate(session_id).write_audit(turn_id, record)

    def _locate(self, session_id: str) -> Session:
        # A session directory here wins; a resumed one keeps living where it was found.
        here = Session(session_id, self.workspace, self.session_dir(session_id))
        if here.directory.exists():
            return here
        return self.find(session_id) or here
