"""The database schema, versioned: each migration is applied once, in order, in its own
transaction, under an advisory lock so instances starting together migrate once. A database
whose schema is newer than this code knows is refused."""

from __future__ import annotations

import psycopg

from amplifier_agent.core.errors import StorageError

#: Held while migrating; any constant distinct from the session-lock keys will do.
MIGRATION_LOCK_KEY = 0x616D706C_6D696772

_V1 = """
CREATE TABLE sessions (
    workspace text NOT NULL,
    session_id text NOT NULL,
    cwd text NOT NULL,
    created_at text NOT NULL,
    updated_at text NOT NULL,
    last_turn text,
    turns integer NOT NULL DEFAULT 0,
    tokens_in_total bigint NOT NULL DEFAULT 0,
    tokens_out_total bigint NOT NULL DEFAULT 0,
    cost_usd_total numeric,
    has_transcript boolean NOT NULL DEFAULT false,
    PRIMARY KEY (workspace, session_id)
);
CREATE INDEX sessions_by_id ON sessions (session_id);
CREATE TABLE transcript (
    workspace text NOT NULL,
    session_id text NOT NULL,
    seq integer NOT NULL,
    ts text NOT NULL,
    message jsonb NOT NULL,
    PRIMARY KEY (workspace, session_id, seq),
    FOREIGN KEY (workspace, session_id) REFERENCES sessions ON DELETE CASCADE
);
CREATE TABLE audits (
    workspace text NOT NULL,
    session_id text NOT NULL,
    turn_id text NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (workspace, session_id, turn_id),
    FOREIGN KEY (workspace, session_id) REFERENCES sessions ON DELETE CASCADE
);
CREATE TABLE ledger (
    id bigserial PRIMARY KEY,
    session_id text NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX ledger_by_session ON ledger (session_id);
"""

# Stored Responses, per workspace like the sessions. The record is kept as text, not jsonb, so a
# GET returns its keys in the order they were stored.
_V2 = """
CREATE TABLE responses (
    workspace text NOT NULL,
    response_id text NOT NULL,
    record text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, response_id)
);
"""

#: (version, SQL) in order; a released migration is never edited, only followed by a new one.
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _V1), (2, _V2))
LATEST = MIGRATIONS[-1][0]

_VERSIONS_TABLE = """
CREATE TABLE IF NOT EXISTS amplifier_schema_versions (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def schema_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """The highest applied migration; 0 for a database this code never touched."""
    exists = conn.execute("SELECT to_regclass('amplifier_schema_versions') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM amplifier_schema_versions").fetchone()
    return int(str(row[0])) if row else 0


def check_not_newer(version: int) -> None:
    if version > LATEST:
        raise StorageError(
            f"the database schema is at version {version}, newer than this amplifier-agent "
            f"supports ({LATEST}); upgrade amplifier-agent",
            code="store_schema_newer",
        )


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> list[int]:
    """Bring the schema to `LATEST` on an autocommit connection; the versions applied."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        conn.execute(_VERSIONS_TABLE)
        current = schema_version(conn)
        check_not_newer(current)
        applied = []
        for version, sql in MIGRATIONS:
            if version <= current:
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO amplifier_schema_versions (version) VALUES (%s)", (version,)
                )
            applied.append(version)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
