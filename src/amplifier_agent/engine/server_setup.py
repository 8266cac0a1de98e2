"""Server start-up (SPEC §8.2): build every declared provider, list its models, and collect every
problem instead of stopping at the first."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from amplifier_agent.config.host_config import HostConfig, ProviderEntry
from amplifier_agent.core.errors import (
    AmplifierError,
    ModuleNotInstalled,
    ProviderNotConfigured,
)
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.core.registry import Registry, build_registry
from amplifier_agent.engine.providers import ProviderPool
from amplifier_agent.engine.store_select import open_configured_store
from amplifier_agent.providers.metadata import enrich
from amplifier_agent.providers.pricing import load_price_data, uses_price_data
from amplifier_agent.providers.transport import server_transport
from amplifier_agent.store.protocol import StoreBackend

STARTUP_LIST_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the server cannot start; `provider` names the entry when there is one."""

    code: str
    message: str
    provider: str | None = None

    def to_json(self) -> dict[str, str]:
        fields = {"code": self.code}
        if self.provider is not None:
            fields["provider"] = self.provider
        fields["message"] = self.message
        return fields


@dataclass(frozen=True, slots=True)
class LoadedProviders:
    """Every declared provider built and listed at a server's start-up: the long-lived pool, the
    served-models registry and each provider's listing."""

    pool: ProviderPool
    registry: Registry
    listings: dict[str, list[ModelInfo]]


def providers_problems(config: HostConfig) -> list[Problem]:
    if config.providers is None:
        return [
            Problem(
                "providers_missing",
                "host_config has no `providers`; declare at least one, e.g. "
                '{"providers": {"anthropic": {}}}',
            )
        ]
    if not config.providers:
        return [Problem("providers_empty", "host_config `providers` must be a non-empty object")]
    return []


async def load_providers(config: HostConfig) -> tuple[LoadedProviders | None, list[Problem]]:
    """Build and list every `providers` entry concurrently; problems come in config order."""
    entries = config.providers or ()
    pool = ProviderPool({e.id: (e.module, e.config) for e in entries})
    with server_transport():
        results = await asyncio.gather(*(_load_one(pool, entry) for entry in entries))
    problems = [problem for _, problem in results if problem is not None]
    if problems:
        await pool.aclose()
        return None, problems
    listings = {entry.id: models for entry, (models, _) in zip(entries, results, strict=True)}
    _load_price_data_if_used(entries)
    return LoadedProviders(pool, build_registry(listings), listings), []


def _load_price_data_if_used(entries: tuple[ProviderEntry, ...]) -> None:
    """Loaded at start-up, the price data does not hold up the first priced request, and the
    server's `gc.freeze()` keeps the collector from walking it on every full collection."""
    if any(
        uses_price_data(entry.module, overridden=entry.config.get("pricing") is not None)
        for entry in entries
    ):
        load_price_data()


async def _load_one(
    pool: ProviderPool, entry: ProviderEntry
) -> tuple[list[ModelInfo], Problem | None]:
    try:
        provider = pool.get(entry.id)
    except ProviderNotConfigured as error:
        return [], Problem("credentials_missing", error.message, entry.id)
    except ModuleNotInstalled as error:
        return [], Problem("module_not_installed", error.message, entry.id)
    except AmplifierError as error:
        return [], Problem("provider_init_failed", error.message, entry.id)
    try:
        async with asyncio.timeout(STARTUP_LIST_TIMEOUT_S):
            models = await provider.list_models()
    except TimeoutError:
        message = f"listing models timed out after {STARTUP_LIST_TIMEOUT_S:g} s"
        return [], Problem("list_models_failed", message, entry.id)
    except AmplifierError as error:
        return [], Problem("list_models_failed", error.message, entry.id)
    if not models:
        return [], Problem("no_models", f"{entry.id} lists no models", entry.id)
    return [enrich(m) for m in models], None


def startup_store(
    flag: str | None, config: HostConfig
) -> tuple[StoreBackend | None, list[Problem]]:
    """A server's store, or the start-up problem that prevents it (its code kept: for example
    `store_unavailable` or `store_schema_newer`)."""
    try:
        return open_configured_store(flag, config), []
    except AmplifierError as error:
        return None, [Problem(error.code, error.message)]
