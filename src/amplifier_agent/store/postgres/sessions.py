"""Sessions in PostgreSQL: a `PgSession` keeps the writes of the turn under way in memory and
`flush`es them in the caller's transaction, so a turn's messages, metadata and ledger line
commit together; reads see those pending writes."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from amplifier_agent.core.errors import SessionError, StorageError
from amplifier_agent.core.messages import Message
from amplifier_agent.core.usage import Usage
from amplifier_agent.store import ids
from amplifier_agent.store.audit import AuditRecord
from amplifier_agent.store.files import utc_now
from amplifier_agent.store.metadata import LastTurn, SessionMetadata, new_metadata
from amplifier_agent.store.repair import RepairReport, repair
from amplifier_agent.store.session_common import CountsTurns
from amplifier_agent.store.transcript import message_from_dict, message_to_dict

Conn = psycopg.Connection[tuple[Any, ...]]

METADATA_COLUMNS = (
    "cwd, created_at, updated_at, last_turn, turns, tokens_in_total, tokens_out_total, "
    "cost_usd_total"
)
INSERT_METADATA = f"""
INSERT INTO sessions (workspace, session_id, {METADATA_COLUMNS}, has_transcript)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
#: A new session keeps an existing row (never truncate).
CREATE_SESSION = INSERT_METADATA + "ON CONFLICT DO NOTHING"
UPSERT_METADATA = (
    INSERT_METADATA
    + """ON CONFLICT (workspace, session_id) DO UPDATE SET
    cwd = excluded.cwd, created_at = excluded.created_at, updated_at = excluded.updated_at,
    last_turn = excluded.last_turn, turns = excluded.turns,
    tokens_in_total = excluded.tokens_in_total, tokens_out_total = excluded.tokens_out_total,
    cost_usd_total = excluded.cost_usd_total,
    has_transcript = sessions.has_transcript OR excluded.has_transcript
"""
)


def storage_failure(action: str, exc: psycopg.Error) -> StorageError:
    return StorageError(f"cannot {action} in the database: {exc}".strip())


def metadata_row(workspace: str, metadata: SessionMetadata, touched: bool) -> tuple[Any, ...]:
    m = metadata
    return (
        workspace,
        m.session_id,
        m.cwd,
        m.created_at,
        m.updated_at,
        m.last_turn,
        m.turns,
        m.tokens_in_total,
        m.tokens_out_total,
        m.cost_usd_total,
        touched,
    )


def metadata_from_row(session_id: str, workspace: str, row: tuple[Any, ...]) -> SessionMetadata:
    cwd, created, updated, last_turn, turns, tokens_in, tokens_out, cost = row
    return SessionMetadata(
        session_id=session_id,
        workspace=workspace,
        cwd=cwd,
        created_at=created,
        updated_at=updated,
        last_turn=last_turn,
        turns=turns,
        tokens_in_total=tokens_in,
        tokens_out_total=tokens_out,
        cost_usd_total=None if cost is None else Decimal(cost),
    )


@dataclasses.dataclass(eq=False)
class PgSession(CountsTurns):
    """One session row and its transcript; writes wait in memory until `flush`."""

    pool: ConnectionPool[Conn]
    session_id: str
    workspace: str
    _ops: list[tuple[str, list[Message], str]] = dataclasses.field(default_factory=list)
    #: The metadata the turn will commit (None: unchanged).
    _metadata: SessionMetadata | None = None
    #: What the database held when first read (or last flushed): the session is read and
    #: written by one turn at a time (its lock), so a turn need not read it twice.
    _stored: SessionMetadata | None = None
    _stored_known: bool = False
    _has_transcript: bool | None = None

    def has_transcript(self) -> bool:
        if self._ops:
            return True
        if self._has_transcript is None:
            sql = "SELECT has_transcript FROM sessions WHERE workspace=%s AND session_id=%s"
            row = self._one(sql)
            self._has_transcript = bool(row and row[0])
        return self._has_transcript

    def load(self) -> list[Message]:
        messages = [entry[1] for entry in self._stored_entries()]
        for kind, batch, _ in self._ops:
            messages = list(batch) if kind == "rewrite" else messages + batch
        return messages

    def load_repaired(self) -> tuple[list[Message], RepairReport]:
        history, report = repair(self.load())
        if report.changed:
            self.rewrite(history)
        return history, report

    def append(self, messages: list[Message]) -> None:
        if messages:
            self._ops.append(("append", list(messages), utc_now()))

    def rewrite(self, messages: list[Message]) -> None:
        self._ops.append(("rewrite", list(messages), utc_now()))

    def read_metadata(self) -> SessionMetadata | None:
        if self._metadata is not None:
            return self._metadata
        if not self._stored_known:
            row = self._one(
                f"SELECT {METADATA_COLUMNS} FROM sessions WHERE workspace=%s AND session_id=%s"
            )
            self.remember(row)
        return self._stored

    def remember(self, row: tuple[Any, ...] | None) -> None:
        """Take `row` (the metadata columns, or None: no row) as what the database holds."""
        self._stored_known = True
        self._stored = (
            None if row is None else metadata_from_row(self.session_id, self.workspace, row)
        )

    def update_metadata(
        self, usage: Usage, status: LastTurn, *, cwd: str | None = None
    ) -> SessionMetadata:
        self._metadata = self._current(cwd).after_turn(usage, status)
        return self._metadata

    def set_last_turn(self, status: LastTurn, *, cwd: str | None = None) -> SessionMetadata:
        """Change only `last_turn`, committed at once (it is written after the turn ended)."""
        updated = self._metadata = self._current(cwd).with_last_turn(status)
        self.commit()
        return updated

    def write_audit(self, turn_id: str, record: AuditRecord) -> str:
        ids.validate_turn_id(turn_id)
        sql = """
            INSERT INTO audits (workspace, session_id, turn_id, record) VALUES (%s, %s, %s, %s)
            ON CONFLICT (workspace, session_id, turn_id) DO UPDATE SET record = excluded.record
        """
        try:
            with self.pool.connection() as conn:
                conn.execute(
                    sql, (self.workspace, self.session_id, turn_id, Jsonb(record.to_json()))
                )
        except psycopg.Error as exc:
            raise storage_failure("write the audit record", exc) from exc
        return turn_id

    def commit(self) -> None:
        """Flush the pending writes in a transaction of their own."""
        try:
            with self.pool.connection() as conn, conn.transaction():
                self.flush(conn)
        except psycopg.Error as exc:
            raise storage_failure(f"store session {self.session_id!r}", exc) from exc

    def flush(self, conn: Conn) -> None:
        """Write the pending messages and metadata inside the caller's transaction."""
        stored = self._stored if self._stored_known else self._stored_metadata(conn)
        metadata = self._metadata or stored or new_metadata(self.session_id, self.workspace, "")
        conn.execute(UPSERT_METADATA, metadata_row(self.workspace, metadata, bool(self._ops)))
        for kind, batch, ts in self._ops:
            if kind == "rewrite":
                self._write_rewrite(conn, batch, ts)
            else:
                self._write_append(conn, batch, ts)
        self._has_transcript = bool(self._has_transcript or self._ops)
        self._ops.clear()
        self._metadata = None
        # What the next read sees once the caller's transaction commits; a failed commit ends
        # the turn with a storage error, and the face drops the session object with it.
        self._stored, self._stored_known = metadata, True

    def _write_append(self, conn: Conn, batch: list[Message], ts: str) -> None:
        key = (self.workspace, self.session_id)
        row = conn.execute(
            "SELECT coalesce(max(seq), -1) FROM transcript WHERE workspace=%s AND session_id=%s",
            key,
        ).fetchone()
        start = (row[0] if row else -1) + 1
        self._insert(conn, [(start + i, ts, m) for i, m in enumerate(batch)])

    def _write_rewrite(self, conn: Conn, batch: list[Message], ts: str) -> None:
        """Replace the transcript; the unchanged leading run keeps its timestamps."""
        old = self._stored_entries(conn)
        conn.execute(
            "DELETE FROM transcript WHERE workspace=%s AND session_id=%s",
            (self.workspace, self.session_id),
        )
        rows, in_prefix = [], True
        for index, message in enumerate(batch):
            in_prefix = in_prefix and index < len(old) and old[index][1] == message
            rows.append((index, (old[index][0] or ts) if in_prefix else ts, message))
        self._insert(conn, rows)

    def _insert(self, conn: Conn, rows: list[tuple[int, str, Message]]) -> None:
        if not rows:
            return
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO transcript (workspace, session_id, seq, ts, message) "
                "VALUES (%s, %s, %s, %s, %s)",
                [
                    (self.workspace, self.session_id, seq, ts, Jsonb(message_body(message)))
                    for seq, ts, message in rows
                ],
            )

    def _stored_entries(self, conn: Conn | None = None) -> list[tuple[str, Message]]:
        sql = "SELECT ts, message FROM transcript WHERE workspace=%s AND session_id=%s ORDER BY seq"
        key = (self.workspace, self.session_id)
        try:
            if conn is not None:
                rows = conn.execute(sql, key).fetchall()
            else:
                with self.pool.connection() as own:
                    rows = own.execute(sql, key).fetchall()
        except psycopg.Error as exc:
            raise storage_failure(f"read session {self.session_id!r}", exc) from exc
        try:
            return [(ts, message_from_dict(body)) for ts, body in rows]
        except ValueError as exc:
            raise SessionError(
                f"session {self.session_id!r} holds an unreadable message: {exc}",
                code="stale_session",
            ) from exc

    def _stored_metadata(self, conn: Conn) -> SessionMetadata | None:
        row = conn.execute(
            f"SELECT {METADATA_COLUMNS} FROM sessions WHERE workspace=%s AND session_id=%s",
            (self.workspace, self.session_id),
        ).fetchone()
        return None if row is None else metadata_from_row(self.session_id, self.workspace, row)

    def _current(self, cwd: str | None) -> SessionMetadata:
        return self.read_metadata() or new_metadata(self.session_id, self.workspace, cwd or "")

    def _one(self, sql: str) -> tuple[Any, ...] | None:
        try:
            with self.pool.connection() as conn:
                return conn.execute(sql, (self.workspace, self.session_id)).fetchone()
        except psycopg.Error as exc:
            raise storage_failure(f"read session {self.session_id!r}", exc) from exc


def message_body(message: Message) -> dict[str, Any]:
    body = message_to_dict(message, "")
    del body["ts"]
    return body
