"""The PostgreSQL store backend (psycopg 3 and its connection pool, hand-written SQL)."""

from amplifier_agent.store.postgres.backend import PostgresBackend, connect
from amplifier_agent.store.postgres.migrations import LATEST, migrate, schema_version
from amplifier_agent.store.postgres.url import is_postgres_url, mask_url

__all__ = [
    "LATEST",
    "PostgresBackend",
    "connect",
    "is_postgres_url",
    "mask_url",
    "migrate",
    "schema_version",
]
