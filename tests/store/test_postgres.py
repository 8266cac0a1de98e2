"""What only the shared backend promises: cross-instance session locks, a turn's writes
invisible until they commit together, migrations once under a lock, a newer schema refused, and
the password masked in every error."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from amplifier_agent.core.errors import StorageError
from amplifier_agent.core.messages import UserMessage
from amplifier_agent.core.usage import Usage
from amplifier_agent.store.postgres import LATEST, PostgresBackend, connect, mask_url, migrate
from amplifier_agent.store.postgres.url import scrub
from testkit.postgres import PASSWORD, PostgresCluster
from tests.store.test_backends import ledger_line


@pytest.fixture
def two(pg_url: str) -> Iterator[tuple[PostgresBackend, PostgresBackend]]:
    first, second = PostgresBackend.open(pg_url), PostgresBackend.open(pg_url)
    yield first, second
    first.close()
    second.close()


def test_a_session_lock_is_exclusive_across_instances(
    two: tuple[PostgresBackend, PostgresBackend],
) -> None:
    first, second = two
    lease = first.try_lock("ws", "s1")
    assert lease is not None
    assert second.try_lock("ws", "s1") is None
    assert first.try_lock("other-ws", "s1") is None  # the id alone is the key
    other = second.try_lock("ws", "s2")
    assert other is not None
    lease.release()
    lease.release()  # idempotent
    again = second.try_lock("ws", "s1")
    assert again is not None
    again.release()
    other.release()


def test_a_dead_connection_releases_its_lock(
    two: tuple[PostgresBackend, PostgresBackend], pg_cluster: PostgresCluster, pg_url: str
) -> None:
    holder, other = two
    held = holder.try_lock("ws", "s1")
    assert held is not None and other.try_lock("ws", "s1") is None
    # The holder's connections die, as they do when its process is killed.
    with pg_cluster.superuser() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (pg_url.rsplit("/", 1)[1],),
        )
    lease = other.try_lock("ws", "s1")
    assert lease is not None
    lease.release()
    held.release()  # on a dead connection: no error, the lock was already gone


def test_a_turns_writes_commit_together_at_its_end(
    two: tuple[PostgresBackend, PostgresBackend],
) -> None:
    first, second = two
    session = first.sessions("ws").create("s1", "/p")
    session.append([UserMessage("one")])
    session.update_metadata(Usage(1, 1), "complete")
    assert session.load() == [UserMessage("one")]  # the writer sees its pending writes
    assert second.sessions("ws").find("s1") is None
    assert second.read_ledger() == []
    first.end_turn(session, ledger_line("s1", 1))
    seen = second.sessions("ws").find("s1")
    assert seen is not None and seen.load() == [UserMessage("one")] and seen.turns() == 1
    assert len(second.read_ledger()) == 1


def test_instances_starting_together_migrate_once(pg_url: str) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    applied: list[list[int]] = []

    def start() -> None:
        try:
            with connect(pg_url) as conn:
                barrier.wait()
                applied.append(migrate(conn))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(applied) == [[], [], [], list(range(1, LATEST + 1))]
    with connect(pg_url) as conn:
        rows = conn.execute("SELECT version FROM amplifier_schema_versions").fetchall()
    assert sorted(row[0] for row in rows) == list(range(1, LATEST + 1))


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    PostgresBackend.open(pg_url).close()
    with connect(pg_url) as conn:
        conn.execute("INSERT INTO amplifier_schema_versions (version) VALUES (%s)", (LATEST + 1,))
    with pytest.raises(StorageError) as caught:
        PostgresBackend.open(pg_url)
    assert caught.value.code == "store_schema_newer"
    assert f"version {LATEST + 1}" in caught.value.message


def test_connection_errors_mask_the_password(pg_cluster: PostgresCluster, pg_url: str) -> None:
    wrong = pg_url.replace(PASSWORD, "not-the-Pw-123")
    with pytest.raises(StorageError) as caught:
        PostgresBackend.open(wrong)
    assert caught.value.code == "store_unavailable"
    assert "not-the-Pw-123" not in str(caught.value) and "***" in caught.value.message
    dead = f"postgresql://amplifier:{PASSWORD}@127.0.0.1:1/x"
    with pytest.raises(StorageError) as refused:
        PostgresBackend.open(dead)
    assert PASSWORD not in str(refused.value)


def test_mask_url() -> None:
    assert mask_url("postgresql://u:pw@h:5432/db?sslmode=require") == (
        "postgresql://u:***@h:5432/db?sslmode=require"
    )
    assert mask_url("postgresql://h/db") == "postgresql://h/db"
    assert mask_url("u:pw@h") == "***"
    assert scrub("failed for pw at postgresql://u:pw@h/d", "postgresql://u:pw@h/d") == (
        "failed for *** at postgresql://u:***@h/d"
    )
    assert scrub("user p@ss failed", "postgresql://u:p%40ss@h/d") == "user *** failed"
