"""The served-models registry (SPEC §5.4): which provider serves each model id a client may request.

Pure: built from provider listings in config order; resolution never touches the network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.models import ModelInfo


class UnknownModel(AmplifierError):
    """No provider serves the requested model id."""

    code = "unknown_model"

    def __init__(self, requested: str) -> None:
        super().__init__(
            f"The model '{requested}' is not served here; "
            "GET /v1/models lists the available model ids."
        )
        self.requested = requested


class AmbiguousModel(AmplifierError):
    """A bare model id is served by several providers; `candidates` are its namespaced ids."""

    code = "ambiguous_model"

    def __init__(self, requested: str, candidates: Sequence[str]) -> None:
        super().__init__(
            f"The model '{requested}' is served by several providers; "
            f"request one of: {', '.join(candidates)}"
        )
        self.requested = requested
        self.candidates = tuple(candidates)


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """One listed model: the id clients see (`id`), the provider serving it and its upstream info.

    `id` is the bare upstream id when one provider serves it, else `<provider_id>/<upstream id>`.
    """

    id: str
    provider_id: str
    model: ModelInfo

    @property
    def upstream_model(self) -> str:
        return self.model.id


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a requested model goes: its provider id and the upstream id (prefix stripped)."""

    provider_id: str
    upstream_model: str


@dataclass(frozen=True, slots=True)
class Registry:
    """The served models; build it with `build_registry`."""

    _entries: tuple[RegistryEntry, ...]
    _by_listed_id: Mapping[str, RegistryEntry]
    _by_provider: Mapping[str, Mapping[str, ModelInfo]]
    _servers: Mapping[str, tuple[str, ...]]

    def entries(self) -> tuple[RegistryEntry, ...]:
        """Listed entries: providers in config order, each provider's models in listing order."""
        return self._entries

    def providers_summary(self) -> dict[str, int]:
        """`{provider_id: number of models it serves}`, in config order."""
        return {provider_id: len(models) for provider_id, models in self._by_provider.items()}

    def provider_models(self, provider_id: str) -> tuple[ModelInfo, ...]:
        """One provider's models in listing order (empty for an unknown provider id)."""
        return tuple(self._by_provider.get(provider_id, {}).values())

    def model_info(self, resolution: Resolution) -> ModelInfo | None:
        """The upstream description of a resolved model (limits, capabilities)."""
        return self._by_provider.get(resolution.provider_id, {}).get(resolution.upstream_model)

    def __len__(self) -> int:
        return len(self._entries)

    def resolve(self, requested: str) -> Resolution:
        """The first match of: (1) a listed id; (2) `<provider_id>/<model>` naming one of that
        provider's models; (3) a bare id served by several providers → `AmbiguousModel`;
        (4) anything else → `UnknownModel`."""
        entry = self._by_listed_id.get(requested)
        if entry is not None:
            return Resolution(entry.provider_id, entry.upstream_model)
        prefix, slash, rest = requested.partition("/")
        if slash and rest in self._by_provider.get(prefix, {}):
            return Resolution(prefix, rest)
        servers = self._servers.get(requested, ())
        if len(servers) > 1:
            raise AmbiguousModel(requested, [f"{p}/{requested}" for p in servers])
        raise UnknownModel(requested)


def _dedupe(models: Sequence[ModelInfo]) -> dict[str, ModelInfo]:
    """A provider's models by upstream id; the first listing of a repeated id wins."""
    unique: dict[str, ModelInfo] = {}
    for info in models:
        unique.setdefault(info.id, info)
    return unique


def _servers_by_model(by_provider: Mapping[str, Mapping[str, ModelInfo]]) -> dict[str, list[str]]:
    servers: dict[str, list[str]] = {}
    for provider_id, models in by_provider.items():
        for model_id in models:
            servers.setdefault(model_id, []).append(provider_id)
    return servers


def _namespaced(by_provider: Mapping[str, Mapping[str, ModelInfo]]) -> set[tuple[str, str]]:
    """The (provider, model) pairs that must be listed as `<provider_id>/<model>`.

    A model served by several providers is namespaced everywhere. A bare id that would collide
    with such a namespaced id (e.g. a gateway serving `p/x` while providers `p` and `q` serve `x`)
    is namespaced too, so every listed id names exactly one model.
    """
    servers = _servers_by_model(by_provider)
    shared = {(p, m) for m, providers in servers.items() if len(providers) > 1 for p in providers}
    taken = {f"{p}/{m}" for p, m in shared}
    solo = {(ps[0], m) for m, ps in servers.items() if len(ps) == 1 and m in taken}
    return shared | solo


def build_registry(listings: Mapping[str, Sequence[ModelInfo]]) -> Registry:
    """The registry of `listings` (`{provider_id: models}`, keys in config order)."""
    by_provider = {provider_id: _dedupe(models) for provider_id, models in listings.items()}
    namespaced = _namespaced(by_provider)
    entries: list[RegistryEntry] = []
    for provider_id, models in by_provider.items():
        for model_id, info in models.items():
            listed = (
                f"{provider_id}/{model_id}" if (provider_id, model_id) in namespaced else model_id
            )
            entries.append(RegistryEntry(listed, provider_id, info))
    servers = _servers_by_model(by_provider)
    return Registry(
        _entries=tuple(entries),
        _by_listed_id=MappingProxyType({entry.id: entry for entry in entries}),
        _by_provider=MappingProxyType(
            {p: MappingProxyType(models) for p, models in by_provider.items()}
        ),
        _servers=MappingProxyType({m: tuple(ps) for m, ps in servers.items()}),
    )
