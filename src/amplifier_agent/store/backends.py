"""Choosing the store: a `postgresql://` URL selects the database, no URL the files."""

from __future__ import annotations

from pathlib import Path

from amplifier_agent.core.errors import ConfigError
from amplifier_agent.store.file_backend import FileBackend
from amplifier_agent.store.protocol import StoreBackend


def open_backend(url: str | None, workspaces_root: Path, ledger_path: Path) -> StoreBackend:
    """The store `url` names (files when None); the database is connected and migrated here.

    The PostgreSQL driver is imported only when a URL asks for it.
    """
    if not url:
        return FileBackend(workspaces_root, ledger_path)
    from amplifier_agent.store.postgres.url import is_postgres_url, mask_url

    if not is_postgres_url(url):
        raise ConfigError(
            f"store URL {mask_url(url)!r} must start with postgresql:// (or leave it unset "
            "for the files under the state root)",
            code="config_invalid_store",
        )
    from amplifier_agent.store.postgres.backend import PostgresBackend

    return PostgresBackend.open(url)
