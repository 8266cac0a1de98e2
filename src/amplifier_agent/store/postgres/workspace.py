"""One workspace's view of the sessions in the database (the `Sessions` of the store protocol):
lookups search the current workspace first, then the others in name order, like the files."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from amplifier_agent.store import ids
from amplifier_agent.store.metadata import new_metadata
from amplifier_agent.store.postgres.sessions import (
    CREATE_SESSION,
    METADATA_COLUMNS,
    Conn,
    PgSession,
    metadata_row,
    storage_failure,
)
from amplifier_agent.store.responses import (
    decode_record,
    encode_record,
    is_response_id,
    validate_response_id,
)
from amplifier_agent.store.session_common import found_or_missing

_FIND = f"""
SELECT workspace, {METADATA_COLUMNS} FROM sessions WHERE session_id = %s AND has_transcript
ORDER BY workspace <> %s, workspace COLLATE "C" LIMIT 1
"""
_SAVE_RESPONSE = """
INSERT INTO responses (workspace, response_id, record) VALUES (%s, %s, %s)
ON CONFLICT (workspace, response_id) DO UPDATE SET record = EXCLUDED.record
"""
_LOAD_RESPONSE = "SELECT record FROM responses WHERE workspace=%s AND response_id=%s"


class PgSessions:
    def __init__(self, pool: ConnectionPool[Conn], workspace: str) -> None:
        if not workspace or "/" in workspace or "\\" in workspace or workspace.strip(".") == "":
            raise ValueError(f"workspace {workspace!r} is not a single path component")
        self.pool = pool
        self.workspace = workspace

    def find(self, session_id: str) -> PgSession | None:
        ids.validate_session_id(session_id)
        row = self._query(_FIND, (session_id, self.workspace), "find session")
        if row is None:
            return None
        found = PgSession(self.pool, session_id, row[0], _has_transcript=True)
        found.remember(row[1:])  # one query tells where the session is and what it holds
        return found

    def create(self, session_id: str, cwd: str) -> PgSession:
        """The session row in the current workspace; an existing row is kept (never truncate)."""
        ids.validate_session_id(session_id)
        metadata = new_metadata(session_id, self.workspace, cwd)
        try:
            with self.pool.connection() as conn:
                conn.execute(CREATE_SESSION, metadata_row(self.workspace, metadata, False))
        except psycopg.Error as exc:
            raise storage_failure(f"create session {session_id!r}", exc) from exc
        return PgSession(self.pool, session_id, self.workspace)

    def open(self, session_id: str) -> PgSession:
        return found_or_missing(self.find(session_id), session_id)

    def open_or_create(self, session_id: str, cwd: str) -> PgSession:
        return self.find(session_id) or self.create(session_id, cwd)

    def delete(self, session_id: str) -> bool:
        ids.validate_session_id(session_id)
        sql = "DELETE FROM sessions WHERE workspace=%s AND session_id=%s RETURNING 1"
        return self._query(sql, (self.workspace, session_id), "delete session") is not None

    def exists(self, session_id: str) -> bool:
        return self.find(session_id) is not None

    def occupied(self, session_id: str) -> bool:
        ids.validate_session_id(session_id)
        sql = "SELECT 1 FROM sessions WHERE workspace=%s AND session_id=%s"
        return self._query(sql, (self.workspace, session_id), "find session") is not None

    def save_response(self, response_id: str, record: dict[str, Any]) -> None:
        validate_response_id(response_id)
        try:
            with self.pool.connection() as conn:
                conn.execute(_SAVE_RESPONSE, (self.workspace, response_id, encode_record(record)))
        except psycopg.Error as exc:
            raise storage_failure(f"store response {response_id!r}", exc) from exc

    def load_response(self, response_id: str) -> dict[str, Any] | None:
        if not is_response_id(response_id):
            return None
        row = self._query(_LOAD_RESPONSE, (self.workspace, response_id), "load response")
        return None if row is None else decode_record(row[0])

    def _query(self, sql: str, params: tuple[str, ...], action: str) -> tuple[Any, ...] | None:
        try:
            with self.pool.connection() as conn:
                row = conn.execute(sql, params).fetchone()
        except psycopg.Error as exc:
            raise storage_failure(action, exc) from exc
        return None if row is None else tuple(row)
