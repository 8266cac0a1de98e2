"""Where a process keeps its sessions and ledger: the store chosen by flag, environment or
host_config (`config.store_url`), opened once; the files under the state root by default."""

from __future__ import annotations

from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.config.paths import layout
from amplifier_agent.config.store_url import StoreChoice, choose_store
from amplifier_agent.store.backends import open_backend
from amplifier_agent.store.file_backend import FileBackend
from amplifier_agent.store.protocol import StoreBackend

__all__ = [
    "StoreChoice",
    "choose_store",
    "default_store",
    "open_configured_store",
    "open_store",
]


def open_store(choice: StoreChoice) -> StoreBackend:
    """The chosen store, connected (and its schema migrated) now: `ConfigError` for a URL of
    another kind, `StorageError` (password masked) when the database cannot be used."""
    paths = layout()
    return open_backend(choice.url, paths.workspaces_dir, paths.usage_ledger)


def open_configured_store(flag: str | None, config: HostConfig) -> StoreBackend:
    return open_store(choose_store(flag, config))


def default_store() -> FileBackend:
    paths = layout()
    return FileBackend(paths.workspaces_dir, paths.usage_ledger)
