"""The store's on-disk primitives (shared with config, from `core.fsio`) and the ISO UTC
timestamps every record carries."""

from __future__ import annotations

from datetime import UTC, datetime

from amplifier_agent.core.fsio import append_bytes, atomic_write, ensure_private_dir, write_all

__all__ = ["append_bytes", "atomic_write", "ensure_private_dir", "iso_utc", "utc_now", "write_all"]


def utc_now() -> str:
    """The current time as ISO 8601 UTC with milliseconds and a `Z` suffix."""
    return iso_utc(datetime.now(UTC))


def iso_utc(moment: datetime) -> str:
    """`moment` as ISO 8601 UTC (`2025-01-31T12:00:00.123Z`); naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
