"""Building providers from configuration: credentials, endpoints, the adapter, model listing.

Nothing else builds adapters. Provider SDKs are imported only when a provider is actually built,
so argument parsing and `--version` stay fast.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from amplifier_agent.config.credentials import CredentialResolver
from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.config.provider_select import select_run_provider
from amplifier_agent.core.catalog import KNOWN_PROVIDERS, ProviderSpec
from amplifier_agent.core.errors import (
    ConfigError,
    ModuleNotInstalled,
    ProviderError,
    ProviderNotConfigured,
)
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.providers.base import DEFAULT_STALL_TIMEOUT_S, Provider, ProviderSettings
from amplifier_agent.providers.metadata import enrich

__all__ = [
    "PoolEntry",
    "ProviderPool",
    "build_provider",
    "list_provider_models",
    "resolve_provider_settings",
    "select_provider_module",
]

STALL_TIMEOUT_ENV = "AMPLIFIER_AGENT_STALL_TIMEOUT_S"


def _spec(module: str) -> ProviderSpec:
    spec = KNOWN_PROVIDERS.get(module)
    if spec is None:
        known = ", ".join(sorted(KNOWN_PROVIDERS))
        raise ConfigError(
            f"unknown provider module '{module}' (known: {known})",
            code="config_invalid_provider_module",
        )
    return spec


def _effective_config(config: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The provider config with the stall timeout made explicit (config > env > default)."""
    effective = {k: v for k, v in config.items() if k != "api_key"}
    if "stall_timeout_s" not in effective:
        raw = env.get(STALL_TIMEOUT_ENV, "").strip()
        effective["stall_timeout_s"] = _parse_seconds(raw) if raw else DEFAULT_STALL_TIMEOUT_S
    return effective


def _parse_seconds(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{STALL_TIMEOUT_ENV} must be a number of seconds, got {raw!r}",
            code="config_invalid_type",
        ) from exc
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ConfigError(f"{STALL_TIMEOUT_ENV} must be >= 0", code="config_invalid_type")
    return seconds


def resolve_provider_settings(
    provider_id: str,
    module: str,
    config: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> ProviderSettings:
    """Resolve credential, endpoint and API version for one provider entry, or raise
    `ProviderNotConfigured` naming the variable to set."""
    spec = _spec(module)
    environ = os.environ if env is None else env
    entry_config = dict(config or {})
    resolver = CredentialResolver(env=environ)
    credential = resolver.credential(module, provider_id=provider_id, config=entry_config)
    if spec.credential_required and credential.value is None:
        raise ProviderNotConfigured(
            f"{spec.credential_env} is not set and credentials.json has no entry "
            f"for '{provider_id}'",
            env_var=spec.credential_env,
        )
    endpoint = resolver.endpoint(module, provider_id=provider_id, config=entry_config)
    if spec.endpoint_required and endpoint.value is None:
        variable = spec.endpoint_env[0] if spec.endpoint_env else "config.base_url"
        raise ProviderNotConfigured(
            f"{module} needs an endpoint: set {variable} or config.base_url", env_var=variable
        )
    return ProviderSettings(
        provider_id=provider_id,
        module=module,
        api_key=credential.value,
        endpoint=endpoint.value,
        api_version=resolver.api_version(entry_config).value if module == "azure-openai" else None,
        config=_effective_config(entry_config, environ),
    )


def build_provider(
    provider_id: str,
    module: str,
    config: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> Provider:
    """A ready adapter for one provider entry (SDK imported here, not before)."""
    settings = resolve_provider_settings(provider_id, module, config, env=env)
    return _construct(settings)


def _construct(settings: ProviderSettings) -> Provider:
    wire = _spec(settings.module).wire
    try:
        if wire == "anthropic":
            from amplifier_agent.providers.anthropic import AnthropicProvider

            return AnthropicProvider(settings)
        if wire == "chat_completions":
            from amplifier_agent.providers.chat_completions import ChatCompletionsProvider

            return ChatCompletionsProvider(settings)
        from amplifier_agent.providers.local import LocalProvider

        return LocalProvider(settings)
    except ImportError as exc:
        raise ModuleNotInstalled(
            f"the {settings.module} adapter cannot be imported ({exc.name or exc})"
        ) from exc


async def list_provider_models(
    provider_id: str,
    module: str,
    timeout_s: float = 15.0,
    extra_config: Mapping[str, Any] | None = None,
) -> list[ModelInfo]:
    """The models one provider serves, enriched with packaged metadata (SPEC §5.3)."""
    provider = build_provider(provider_id, module, extra_config)
    try:
        async with asyncio.timeout(timeout_s):
            models = await provider.list_models()
    except TimeoutError as exc:
        raise ProviderError(
            "upstream_timeout", f"listing {provider_id} models timed out after {timeout_s:g} s"
        ) from exc
    finally:
        await provider.aclose()
    return [enrich(model) for model in models]


#: One provider of a pool: its adapter module and its config.
PoolEntry = tuple[str, Mapping[str, Any]]


class ProviderPool:
    """The adapters a turn (or a server) uses: built once per provider id, closed together."""

    def __init__(self, entries: Mapping[str, PoolEntry]) -> None:
        self._entries = dict(entries)
        self._built: dict[str, Provider] = {}

    def get(self, provider_id: str) -> Provider:
        provider = self._built.get(provider_id)
        if provider is None:
            module, config = self._entries[provider_id]
            provider = build_provider(provider_id, module, config)
            self._built[provider_id] = provider
        return provider

    def config_of(self, provider_id: str) -> Mapping[str, Any]:
        return self._entries[provider_id][1]

    async def aclose(self) -> None:
        built, self._built = list(self._built.values()), {}
        for provider in built:
            await provider.aclose()


def select_provider_module(config: HostConfig) -> str:
    """§7.2 step 2: `provider.module`, else the first provider whose credential resolves."""
    return select_run_provider(config.provider, CredentialResolver()).module
