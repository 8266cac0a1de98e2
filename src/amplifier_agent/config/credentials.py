"""The one credential and endpoint resolver (SPEC §4.1, §5.1), env-first.

Credential order: `config.api_key_env` → primary env var → alias env vars (deprecated, warned once
per resolver) → credentials.json (entry by provider id, then module) → catalog default → none. The
file is read only when the environment does not answer, and never cached between lookups.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from amplifier_agent.config.credentials_file import field_for, load_credentials
from amplifier_agent.config.paths import layout
from amplifier_agent.core.catalog import KNOWN_PROVIDERS, ProviderSpec

AZURE_DEFAULT_API_VERSION = "2024-10-21"
API_VERSION_ENV = "OPENAI_API_VERSION"

Step = Literal["config", "env", "file:endpoint", "file:host", "default"]

#: Where each module's endpoint comes from, first match wins (SPEC §5.1).
ENDPOINT_ORDER: Mapping[str, tuple[Step, ...]] = MappingProxyType(
    {
        "anthropic": ("config", "env", "default"),
        "openai": ("config", "env", "default"),
        "azure-openai": ("env", "file:endpoint", "config"),
        "ollama": ("env", "file:host", "default"),
        "chat-completions": ("config", "env", "file:endpoint"),
        "local": (),
    }
)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A resolved value and its source: `env:<VAR>`, `file`, `host_config`, `default` or `none`.

    A `default` value may be None: the SDK's own default endpoint, or a module needing no key.
    """

    value: str | None
    source: str


NONE = Resolved(None, "none")


def spec_for(module: str) -> ProviderSpec:
    try:
        return KNOWN_PROVIDERS[module]
    except KeyError:
        raise ValueError(f"unknown provider module {module!r}") from None


def _stderr_warning(message: str) -> None:
    sys.stderr.write(message + "\n")


def _config_str(config: Mapping[str, Any] | None, key: str) -> str | None:
    value = (config or {}).get(key)
    return value if isinstance(value, str) and value.strip() else None


def with_scheme(url: str) -> str:
    """Ollama hosts are often written `gpu:11434`; the SDK needs a scheme."""
    return url if "://" in url else f"http://{url}"


class CredentialResolver:
    """Resolves credentials, endpoints and the Azure API version for any catalog module.

    `env` defaults to `os.environ`; `warn` receives each deprecation line once per resolver.
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        credentials_path: Path | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._env: Mapping[str, str] = os.environ if env is None else env
        self.credentials_path = credentials_path or layout(self._env).credentials
        self._warn = warn or _stderr_warning
        self._warned: set[str] = set()

    def env_value(self, name: str) -> str | None:
        """An env var's value; empty or whitespace-only counts as unset."""
        value = self._env.get(name)
        return value if value is not None and value.strip() else None

    def _first_env(self, names: tuple[str, ...]) -> Resolved | None:
        for name in names:
            value = self.env_value(name)
            if value is not None:
                return Resolved(value, f"env:{name}")
        return None

    def _file_field(self, provider_id: str, module: str, field: str) -> str | None:
        doc = load_credentials(self.credentials_path)
        return field_for(doc, (provider_id, module), field)

    def credential(
        self,
        module: str,
        *,
        provider_id: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> Resolved:
        """The secret for a provider (for ollama, its host); raises `credentials_corrupt`.

        `provider_id` (default: the module) is the credentials.json entry tried first.
        """
        spec = spec_for(module)
        provider_id = provider_id or module
        if spec.credential_field == "host":
            return self.endpoint(module, provider_id=provider_id, config=config)
        names: tuple[str, ...] = ()
        custom = _config_str(config, "api_key_env")
        if custom is not None:
            names += (custom,)
        if spec.credential_env is not None:
            names += (spec.credential_env,)
        hit = self._first_env(names) or self._alias(spec)
        if hit is not None:
            return hit
        if spec.credential_env is None and custom is None:
            return Resolved(None, "default")
        value = self._file_field(provider_id, module, "api_key")
        return Resolved(value, "file") if value is not None else NONE

    def _alias(self, spec: ProviderSpec) -> Resolved | None:
        hit = self._first_env(spec.credential_aliases)
        if hit is not None:
            alias = hit.source.removeprefix("env:")
            if alias not in self._warned:
                self._warned.add(alias)
                self._warn(f"[WARN] {alias} is deprecated; use {spec.credential_env}")
        return hit

    def endpoint(
        self,
        module: str,
        *,
        provider_id: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> Resolved:
        """The endpoint (base URL or host) per the module's order; `default` with value None means
        the SDK's own default."""
        spec = spec_for(module)
        provider_id = provider_id or module
        for step in ENDPOINT_ORDER.get(module, ()):
            hit = self._endpoint_step(step, spec, provider_id, config)
            if hit is not None:
                if module == "ollama" and hit.value is not None:
                    return Resolved(with_scheme(hit.value), hit.source)
                return hit
        return NONE

    def _endpoint_step(
        self,
        step: Step,
        spec: ProviderSpec,
        provider_id: str,
        config: Mapping[str, Any] | None,
    ) -> Resolved | None:
        if step == "config":
            value = _config_str(config, "base_url")
            return Resolved(value, "host_config") if value is not None else None
        if step == "env":
            return self._first_env(spec.endpoint_env)
        if step == "default":
            return Resolved(spec.default_endpoint, "default")
        field = step.removeprefix("file:")
        value = self._file_field(provider_id, spec.module, field)
        return Resolved(value, "file") if value is not None else None

    def api_version(self, config: Mapping[str, Any] | None = None) -> Resolved:
        """Azure: `config.api_version` > `OPENAI_API_VERSION` > 2024-10-21."""
        value = _config_str(config, "api_version")
        if value is not None:
            return Resolved(value, "host_config")
        return self._first_env((API_VERSION_ENV,)) or Resolved(AZURE_DEFAULT_API_VERSION, "default")

    def has_file_entry(self, module: str, *, provider_id: str | None = None) -> bool:
        """Whether credentials.json holds the provider's credential field (reads the file)."""
        provider_id = provider_id or module
        field = spec_for(module).credential_field
        return self._file_field(provider_id, module, field) is not None


def resolve_credential(
    module: str,
    *,
    provider_id: str | None = None,
    config: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    resolver: CredentialResolver | None = None,
) -> Resolved:
    """`CredentialResolver.credential` in one call. Pass one `resolver` per invocation to keep
    deprecation warnings to one per alias."""
    resolver = resolver or CredentialResolver(env=env)
    return resolver.credential(module, provider_id=provider_id, config=config)


def resolve_endpoint(
    module: str,
    *,
    provider_id: str | None = None,
    config: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    resolver: CredentialResolver | None = None,
) -> Resolved:
    """`CredentialResolver.endpoint` in one call."""
    resolver = resolver or CredentialResolver(env=env)
    return resolver.endpoint(module, provider_id=provider_id, config=config)


def resolve_api_version(
    config: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> Resolved:
    """Azure: `config.api_version` > `OPENAI_API_VERSION` > 2024-10-21."""
    return CredentialResolver(env=env).api_version(config)
