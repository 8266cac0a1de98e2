"""Which store URLs select the PostgreSQL backend."""

from __future__ import annotations

from amplifier_agent.core.urls import mask_url, scrub

SCHEMES = ("postgresql", "postgres")

__all__ = ["is_postgres_url", "mask_url", "scrub"]


def is_postgres_url(value: str) -> bool:
    return "://" in value and value.split("://", 1)[0].lower() in SCHEMES
