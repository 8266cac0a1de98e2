"""The provider catalog (`KNOWN_PROVIDERS`): facts about each provider module, as data.

Adapters live in `providers/`; this table says only how each module is credentialed, where its
endpoint comes from, and which model it falls back to, so that config and the CLI can reason
about providers without importing any SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WireFormat = Literal["anthropic", "chat_completions", "local"]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One catalog entry.

    `credential_env` is the primary env var for the secret (None: no secret); `credential_aliases`
    are deprecated spellings still honoured; `endpoint_env` lists env vars naming the endpoint, in
    precedence order; `default_endpoint` is the catalog default when nothing else names one.
    """

    module: str
    wire: WireFormat
    credential_env: str | None
    credential_required: bool
    credential_aliases: tuple[str, ...] = ()
    endpoint_env: tuple[str, ...] = ()
    endpoint_required: bool = False
    default_endpoint: str | None = None
    fallback_model: str | None = None
    credential_field: Literal["api_key", "host"] = "api_key"


KNOWN_PROVIDERS: dict[str, ProviderSpec] = {
    spec.module: spec
    for spec in (
        ProviderSpec(
            module="anthropic",
            wire="anthropic",
            credential_env="ANTHROPIC_API_KEY",
            credential_required=True,
            endpoint_env=("ANTHROPIC_BASE_URL",),
            fallback_model="claude-sonnet-4-5",
        ),
        ProviderSpec(
            module="openai",
            wire="chat_completions",
            credential_env="OPENAI_API_KEY",
            credential_required=True,
            endpoint_env=("OPENAI_BASE_URL",),
            fallback_model="gpt-5",
        ),
        ProviderSpec(
            module="azure-openai",
            wire="chat_completions",
            credential_env="AZURE_OPENAI_API_KEY",
            credential_required=True,
            credential_aliases=("AZURE_OPENAI_KEY",),
            endpoint_env=("AZURE_OPENAI_ENDPOINT",),
            endpoint_required=True,
        ),
        ProviderSpec(
            module="ollama",
            wire="chat_completions",
            credential_env=None,
            credential_required=False,
            endpoint_env=("OLLAMA_HOST", "OLLAMA_BASE_URL"),
            default_endpoint="http://localhost:11434",
            credential_field="host",
        ),
        ProviderSpec(
            module="chat-completions",
            wire="chat_completions",
            credential_env="CHAT_COMPLETIONS_API_KEY",
            credential_required=False,
            endpoint_env=("CHAT_COMPLETIONS_BASE_URL",),
            endpoint_required=True,
            fallback_model="default",
        ),
        ProviderSpec(
            module="local",
            wire="local",
            credential_env=None,
            credential_required=False,
            fallback_model="smollm2-135m-instruct",
        ),
    )
}

#: Environment variables that hold secrets: provider keys (and deprecated aliases) and the HTTP
#: face's bearer key. Commands the agent runs never see them.
SECRET_ENV_VARS: frozenset[str] = frozenset(
    name
    for spec in KNOWN_PROVIDERS.values()
    for name in (spec.credential_env, *spec.credential_aliases)
    if name is not None
) | {"AMPLIFIER_AGENT_HTTP_API_KEY"}

#: Providers that `auth` manages (everything that can hold a credential or endpoint).
AUTH_PROVIDERS: tuple[str, ...] = tuple(sorted(m for m in KNOWN_PROVIDERS if m != "local"))

#: The roles a routing matrix maps to model candidates.
ROLES: tuple[str, ...] = ("general", "fast", "reasoning", "coding", "research")
#: The routing matrices shipped with the engine.
MATRIX_NAMES: tuple[str, ...] = ("balanced", "quality", "economy", "anthropic", "openai", "ollama")
DEFAULT_MATRIX = "balanced"
#: The matrix a provider module's family selects when `routing.matrix` is not set.
FAMILY_MATRIX: dict[str, str] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "azure-openai": "openai",
    "ollama": "ollama",
    "chat-completions": "balanced",
    "local": "balanced",
}

MatrixSource = Literal["host_config", "provider_family", "default"]


def matrix_name_for(configured: str | None, active_module: str | None) -> tuple[str, MatrixSource]:
    """Which matrix applies and why: `routing.matrix`, else the active provider's family."""
    if configured:
        return configured, "host_config"
    family = FAMILY_MATRIX.get(active_module or "")
    if family is not None:
        return family, "provider_family"
    return DEFAULT_MATRIX, "default"
