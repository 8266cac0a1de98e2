"""Which provider `run` uses (SPEC §7.2 step 2) and which routing matrix applies (SPEC §6.5)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from amplifier_agent.config.credentials import NONE, CredentialResolver, Resolved, spec_for
from amplifier_agent.config.host_config import ProviderChoice, RoutingConfig
from amplifier_agent.core.catalog import matrix_name_for

#: Auto-detection order when `provider.module` is not set.
DETECTION_ORDER = ("anthropic", "openai", "azure-openai", "ollama", "chat-completions")
FALLBACK_MODULE = "anthropic"
LOCAL_MODULE = "local"


@dataclass(frozen=True, slots=True)
class ProviderSelection:
    """The chosen module, why (`host_config`, the detecting credential's source, or `default`),
    and its resolved credential."""

    module: str
    source: str
    credential: Resolved


def local_installed() -> bool:
    """Whether the embedded provider's runtime is importable (without importing it)."""
    return importlib.util.find_spec("llama_cpp") is not None


def select_run_provider(
    provider: ProviderChoice,
    resolver: CredentialResolver,
    *,
    local_available: Callable[[], bool] = local_installed,
) -> ProviderSelection:
    """`provider.module`, else the first configured provider in `DETECTION_ORDER`, else `local`
    when installed, else `anthropic` (whose missing key the caller reports)."""
    config = provider.config
    if provider.module is not None:
        credential = resolver.credential(provider.module, config=config)
        return ProviderSelection(provider.module, "host_config", credential)
    for module in DETECTION_ORDER:
        found = _detect(module, config, resolver)
        if found is not None:
            return found
    if local_available():
        return ProviderSelection(LOCAL_MODULE, "default", Resolved(None, "default"))
    return ProviderSelection(FALLBACK_MODULE, "default", NONE)


def _detect(
    module: str, config: Mapping[str, Any], resolver: CredentialResolver
) -> ProviderSelection | None:
    if module == "ollama":
        # Only an explicit host opts in: the default host would always "resolve".
        if not any(resolver.env_value(name) for name in spec_for(module).endpoint_env):
            return None
        host = resolver.credential(module, config=config)
        return ProviderSelection(module, host.source, host)
    if module == "chat-completions":
        endpoint = resolver.endpoint(module, config=config)
        if endpoint.value is None:
            return None
        return ProviderSelection(
            module, endpoint.source, resolver.credential(module, config=config)
        )
    credential = resolver.credential(module, config=config)
    if credential.value is None:
        return None
    # azure-openai counts only with both its key and its endpoint.
    needs_endpoint = spec_for(module).endpoint_required
    if needs_endpoint and resolver.endpoint(module, config=config).value is None:
        return None
    return ProviderSelection(module, credential.source, credential)


def select_matrix(routing: RoutingConfig, active_module: str) -> tuple[str, str]:
    """`routing.matrix` (source `host_config`), else by the active provider's family
    (`provider_family`)."""
    return matrix_name_for(routing.matrix, active_module)
