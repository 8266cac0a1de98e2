"""The PostgreSQL store shared by many server instances: a connection pool for reads and writes,
a second pool whose connections hold per-session advisory locks for the length of a turn (a
killed instance's connection dies, and its locks with it), and the schema migrated at open."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from amplifier_agent.core.errors import StorageError
from amplifier_agent.store.ledger import LedgerRecord, record_from_json
from amplifier_agent.store.postgres.migrations import migrate
from amplifier_agent.store.postgres.sessions import Conn, PgSession, storage_failure
from amplifier_agent.store.postgres.transfer import (
    dump_database,
    dump_response_rows,
    restore_database,
)
from amplifier_agent.store.postgres.url import mask_url, scrub
from amplifier_agent.store.postgres.workspace import PgSessions
from amplifier_agent.store.protocol import SessionLease, StoredSession
from amplifier_agent.store.transfer import ResponseDump, SessionDump

_LOG = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
POOL_SIZE = 8
#: Each turn under way holds one of these for its whole length.
LOCK_POOL_SIZE = 64
LOCK_WAIT_S = 10.0
_LOCK_SQL = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
_UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"
_INSERT_LEDGER = "INSERT INTO ledger (session_id, record) VALUES (%s, %s)"


def connect(url: str) -> Conn:
    """One autocommit connection; a failure is a `StorageError` with the password masked."""
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise StorageError(
            f"cannot connect to the store {mask_url(url)}: {scrub(str(exc), url).strip()}",
            code="store_unavailable",
        ) from exc


def _pool(url: str, max_size: int, min_size: int) -> ConnectionPool[Conn]:
    return ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
        open=False,
        name="amplifier-store",
        # A round trip per checkout; a connection the server dropped (restart, failover) is
        # replaced instead of failing the turn that drew it.
        check=ConnectionPool.check_connection,
    )


@dataclasses.dataclass
class _AdvisoryLease:
    pool: ConnectionPool[Conn]
    conn: Conn | None
    key: str

    def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            conn.execute(_UNLOCK_SQL, (self.key,))
        except psycopg.Error:
            conn.close()  # a closed session holds no advisory lock
        self.pool.putconn(conn)


class PostgresBackend:
    shared = True

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool = _pool(url, POOL_SIZE, 1)
        self.lock_pool = _pool(url, LOCK_POOL_SIZE, 0)

    @classmethod
    def open(cls, url: str) -> PostgresBackend:
        """Connect, migrate the schema (refusing a newer one) and open the pools."""
        with connect(url) as conn:
            try:
                migrate(conn)
            except psycopg.Error as exc:
                raise storage_failure("migrate the schema", exc) from exc
        backend = cls(url)
        backend.pool.open()
        backend.lock_pool.open()
        return backend

    def describe(self) -> str:
        return mask_url(self.url)

    def sessions(self, workspace: str) -> PgSessions:
        return PgSessions(self.pool, workspace)

    def end_turn(self, session: StoredSession | None, record: LedgerRecord) -> None:
        """The turn's messages, metadata and ledger line in one transaction; when that fails,
        the ledger line alone (as failed) and a `StorageError`."""
        try:
            with self.pool.connection() as conn, conn.transaction():
                if isinstance(session, PgSession):
                    session.flush(conn)
                self._insert_ledger(conn, record)
        except psycopg.Error as exc:
            error = storage_failure("store the turn", exc)
            _LOG.warning("%s", error.message)
            if session is not None:
                failed = dataclasses.replace(
                    record, status="failed" if record.status == "completed" else record.status
                )
                self.append_ledger(failed)
                raise error from exc
            self.append_ledger(record)

    def append_ledger(self, record: LedgerRecord) -> bool:
        try:
            with self.pool.connection() as conn:
                self._insert_ledger(conn, record)
        except (psycopg.Error, PoolTimeout) as exc:
            _LOG.warning("could not append to the turn ledger: %s", scrub(str(exc), self.url))
            return False
        return True

    @staticmethod
    def _insert_ledger(conn: Conn, record: LedgerRecord) -> None:
        conn.execute(_INSERT_LEDGER, (record.session_id, Jsonb(record.to_json())))

    def read_ledger(self) -> list[LedgerRecord]:
        try:
            with self.pool.connection() as conn:
                rows = conn.execute("SELECT record FROM ledger ORDER BY id").fetchall()
        except psycopg.Error as exc:
            raise storage_failure("read the turn ledger", exc) from exc
        return [record_from_json(row[0]) for row in rows]

    def dump_sessions(self) -> Iterator[SessionDump]:
        return dump_database(self.pool)

    def restore_session(self, dump: SessionDump) -> None:
        restore_database(self.pool, dump)

    def dump_responses(self) -> Iterator[ResponseDump]:
        return dump_response_rows(self.pool)

    def try_lock(self, workspace: str, session_id: str) -> SessionLease | None:
        # Keyed by id alone: a lookup may find the session in another workspace.
        key = f"amplifier-agent:session:{session_id}"
        try:
            conn = self.lock_pool.getconn(timeout=LOCK_WAIT_S)
        except PoolTimeout as exc:
            raise StorageError("no database connection is free to lock the session") from exc
        try:
            row = conn.execute(_LOCK_SQL, (key,)).fetchone()
        except psycopg.Error as exc:
            self.lock_pool.putconn(conn)
            raise storage_failure("lock the session", exc) from exc
        if not row or not row[0]:
            self.lock_pool.putconn(conn)
            return None
        return _AdvisoryLease(self.lock_pool, conn, key)

    def close(self) -> None:
        self.lock_pool.close()
        self.pool.close()
