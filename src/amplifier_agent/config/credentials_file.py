"""The credentials file (SPEC §4.2): version-1 shape, legacy flat files read as version 1, unknown
providers and fields kept as they are, and pure edits that return a new document."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from amplifier_agent.config.secret_files import read_secret_json, write_secret_json
from amplifier_agent.core.catalog import KNOWN_PROVIDERS
from amplifier_agent.core.errors import ConfigError, storage_error
from amplifier_agent.core.fsio import exclusive_lock, tighten_private_dir

CREDENTIALS_VERSION = 1
CORRUPT = "credentials_corrupt"

CredentialsDoc = dict[str, Any]


def empty_credentials() -> CredentialsDoc:
    return {"version": CREDENTIALS_VERSION, "providers": {}}


def _corrupt(path: Path, problem: str) -> ConfigError:
    return ConfigError(f"{path} {problem}", code=CORRUPT)


def _credential_field(provider: str) -> str:
    spec = KNOWN_PROVIDERS.get(provider)
    return spec.credential_field if spec is not None else "api_key"


def normalise_credentials(raw: Any, path: Path) -> CredentialsDoc:
    """A version-1 document from any accepted shape; anything else is `credentials_corrupt`."""
    if not isinstance(raw, dict):
        raise _corrupt(path, "must hold a JSON object")
    if "version" in raw or "providers" in raw:
        return _version_one(raw, path)
    # Legacy flat file: {"<provider>": "<key>"}.
    providers: dict[str, Any] = {}
    for provider, value in raw.items():
        if isinstance(value, str):
            providers[provider] = {_credential_field(provider): value}
        elif isinstance(value, dict):
            providers[provider] = value
        else:
            raise _corrupt(path, f"has an unreadable entry for {provider!r}")
    return {"version": CREDENTIALS_VERSION, "providers": providers}


def _version_one(raw: dict[str, Any], path: Path) -> CredentialsDoc:
    version = raw.get("version", CREDENTIALS_VERSION)
    if isinstance(version, bool) or version != CREDENTIALS_VERSION:
        raise _corrupt(path, f"has unsupported version {version!r} (expected 1)")
    providers = raw.get("providers", {})
    if not isinstance(providers, dict):
        raise _corrupt(path, "has a `providers` value that is not an object")
    for provider, entry in providers.items():
        if not isinstance(entry, dict):
            raise _corrupt(path, f"has an entry for {provider!r} that is not an object")
    return {**raw, "version": CREDENTIALS_VERSION, "providers": providers}


def load_credentials(path: Path) -> CredentialsDoc | None:
    """The file as a version-1 document, or None when it does not exist.

    A state root that group or others can enter is tightened to 0700 with the file: a private
    file in an open directory could still be replaced or listed.
    """
    raw = read_secret_json(path, corrupt_code=CORRUPT)
    if raw is None:
        return None
    tighten_private_dir(path.parent)
    return normalise_credentials(raw, path)


def save_credentials(path: Path, doc: Mapping[str, Any]) -> None:
    """Write atomically as 0600 indent-2 JSON with sorted keys (always version 1); a failure
    (full disk, read-only state root) is a `StorageError` and leaves the old file intact."""
    try:
        write_secret_json(path, {**doc, "version": CREDENTIALS_VERSION})
    except OSError as exc:
        raise storage_error("write", path, exc) from exc


def delete_credentials(path: Path) -> bool:
    """Remove the file; False when there was none. A failure is a `StorageError`."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise storage_error("delete", path, exc) from exc
    return True


def lock_path(path: Path) -> Path:
    """The lock file beside the credentials file (`credentials.lock`)."""
    return path.with_suffix(".lock")


@contextmanager
def credentials_locked(path: Path) -> Iterator[None]:
    """Hold the credentials lock: every read-modify-write of the file happens inside it, so
    concurrent `auth set` commands for different providers all keep their entries."""
    lock = lock_path(path)
    with ExitStack() as stack:
        try:
            stack.enter_context(exclusive_lock(lock))
        except OSError as exc:
            raise storage_error("lock", lock, exc) from exc
        yield


def entry_for(doc: Mapping[str, Any] | None, provider: str) -> Mapping[str, Any] | None:
    if doc is None:
        return None
    entry = doc.get("providers", {}).get(provider)
    return entry if isinstance(entry, dict) else None


def field_for(doc: Mapping[str, Any] | None, names: tuple[str, ...], field: str) -> str | None:
    """The first non-empty string `field` among the entries `names` (provider id, then module)."""
    for name in names:
        entry = entry_for(doc, name)
        value = entry.get(field) if entry is not None else None
        if isinstance(value, str) and value.strip():
            return value
    return None


def with_credential(
    doc: Mapping[str, Any] | None,
    provider: str,
    *,
    value: str | None,
    endpoint: str | None = None,
) -> CredentialsDoc:
    """A copy with `provider`'s credential (`host` for ollama) and optional `endpoint` set; a
    None `value` keeps the stored credential (an endpoint-only update)."""
    updated: CredentialsDoc = copy.deepcopy(dict(doc)) if doc is not None else empty_credentials()
    providers = updated.setdefault("providers", {})
    entry = dict(providers.get(provider) or {})
    if value is not None:
        entry[_credential_field(provider)] = value
    if endpoint is not None:
        entry["endpoint"] = endpoint
    providers[provider] = entry
    updated["version"] = CREDENTIALS_VERSION
    return updated


def without_credential(doc: Mapping[str, Any], provider: str) -> tuple[CredentialsDoc, bool]:
    """A copy without `provider`'s entry, and whether there was one."""
    updated: CredentialsDoc = copy.deepcopy(dict(doc))
    removed = updated.get("providers", {}).pop(provider, None) is not None
    return updated, removed
