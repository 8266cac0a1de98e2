"""What `doctor` learns about a database store without changing it: whether it connects, the
schema version against the code's, and the round-trip time of a trivial query."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import psycopg

from amplifier_agent.core.errors import StorageError
from amplifier_agent.store.postgres.backend import connect
from amplifier_agent.store.postgres.migrations import LATEST, schema_version
from amplifier_agent.store.postgres.url import scrub

ROUND_TRIPS = 5


@dataclass(frozen=True, slots=True)
class Health:
    schema: int
    latest: int
    rtt_ms: float


def health(url: str) -> Health:
    """Raises `StorageError` (password masked) when the database cannot be reached or read."""
    with connect(url) as conn:
        try:
            version = schema_version(conn)
            timings = []
            for _ in range(ROUND_TRIPS):
                started = time.perf_counter()
                conn.execute("SELECT 1").fetchone()
                timings.append((time.perf_counter() - started) * 1000)
        except psycopg.Error as exc:
            raise StorageError(f"cannot read the store: {scrub(str(exc), url)}") from exc
    return Health(version, LATEST, statistics.median(timings))
