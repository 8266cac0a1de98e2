"""Reading every session out of the database, and writing one back, for `store export` /
`store import`."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from amplifier_agent.core.errors import SessionError
from amplifier_agent.store.metadata import new_metadata
from amplifier_agent.store.postgres.sessions import (
    METADATA_COLUMNS,
    UPSERT_METADATA,
    Conn,
    message_body,
    metadata_from_row,
    metadata_row,
    storage_failure,
)
from amplifier_agent.store.responses import decode_record
from amplifier_agent.store.transcript import TranscriptEntry, message_from_dict
from amplifier_agent.store.transfer import ResponseDump, SessionDump

_KEY = "WHERE workspace=%s AND session_id=%s"


def dump_response_rows(pool: ConnectionPool[Conn]) -> Iterator[ResponseDump]:
    """Every stored Response, workspace by workspace, in id order."""
    try:
        with pool.connection() as conn:
            rows = conn.execute(
                "SELECT workspace, response_id, record FROM responses "
                'ORDER BY workspace COLLATE "C", response_id COLLATE "C"'
            ).fetchall()
    except psycopg.Error as exc:
        raise storage_failure("export the stored responses", exc) from exc
    for workspace, response_id, text in rows:
        record = decode_record(text)
        if record is not None:
            yield ResponseDump(workspace, response_id, record)


def dump_database(pool: ConnectionPool[Conn]) -> Iterator[SessionDump]:
    """Every session, workspace by workspace, in name order."""
    try:
        with pool.connection() as conn:
            keys = conn.execute(
                'SELECT workspace, session_id FROM sessions ORDER BY workspace COLLATE "C", '
                'session_id COLLATE "C"'
            ).fetchall()
            for workspace, session_id in keys:
                yield _dump_one(conn, workspace, session_id)
    except psycopg.Error as exc:
        raise storage_failure("export the sessions", exc) from exc


def _dump_one(conn: Conn, workspace: str, session_id: str) -> SessionDump:
    key = (workspace, session_id)
    row = conn.execute(f"SELECT {METADATA_COLUMNS} FROM sessions {_KEY}", key).fetchone()
    rows = conn.execute(f"SELECT ts, message FROM transcript {_KEY} ORDER BY seq", key).fetchall()
    audits = conn.execute(f"SELECT turn_id, record FROM audits {_KEY}", key).fetchall()
    try:
        entries = tuple(TranscriptEntry(ts, message_from_dict(body)) for ts, body in rows)
    except ValueError as exc:
        raise SessionError(
            f"session {session_id!r} holds an unreadable message: {exc}", code="stale_session"
        ) from exc
    return SessionDump(
        workspace=workspace,
        session_id=session_id,
        metadata=None if row is None else metadata_from_row(session_id, workspace, row),
        entries=entries,
        audits=dict(sorted(audits)),
    )


def restore_database(pool: ConnectionPool[Conn], dump: SessionDump) -> None:
    """Write `dump` as one session in one transaction, replacing what it held."""
    key = (dump.workspace, dump.session_id)
    metadata = dump.metadata or new_metadata(dump.session_id, dump.workspace, "")
    try:
        with pool.connection() as conn, conn.transaction():
            conn.execute(
                UPSERT_METADATA, metadata_row(dump.workspace, metadata, bool(dump.entries))
            )
            conn.execute(f"DELETE FROM transcript {_KEY}", key)
            conn.execute(f"DELETE FROM audits {_KEY}", key)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO transcript (workspace, session_id, seq, ts, message) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    [
                        (*key, seq, e.ts, Jsonb(message_body(e.message)))
                        for seq, e in enumerate(dump.entries)
                    ],
                )
                cur.executemany(
                    "INSERT INTO audits (workspace, session_id, turn_id, record) "
                    "VALUES (%s, %s, %s, %s)",
                    [(*key, turn, Jsonb(dict(record))) for turn, record in dump.audits.items()],
                )
    except psycopg.Error as exc:
        raise storage_failure(f"import session {dump.session_id!r}", exc) from exc
