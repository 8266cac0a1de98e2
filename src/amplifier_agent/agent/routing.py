"""Routing matrices: the packaged role -> candidate tables, their per-turn selection, and the
resolution of a role (or the root model of a `run`) against the providers usable this turn."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Any

from amplifier_agent.core.catalog import (
    KNOWN_PROVIDERS,
    MATRIX_NAMES,
    ROLES,
    matrix_name_for,
)
from amplifier_agent.core.errors import AmplifierError, ConfigError
from amplifier_agent.core.models import ModelInfo

_GLOB_CHARS = frozenset("*?[")
_ANY_PROVIDER = "*"
_PACKAGE = "amplifier_agent.agent"


@dataclass(frozen=True, slots=True)
class Candidate:
    """`<provider>/<pattern>`: `provider` is a provider id, a module name or `*`."""

    provider: str
    pattern: str

    @classmethod
    def parse(cls, text: str) -> Candidate:
        # Split at the first `/` only: model ids such as `meta-llama/Llama-3` contain slashes.
        provider, _, pattern = text.partition("/")
        if not provider or not pattern:
            raise ValueError(f"{text!r} is not `<provider>/<pattern>`")
        return cls(provider, pattern)

    @property
    def is_glob(self) -> bool:
        return any(ch in _GLOB_CHARS for ch in self.pattern)

    def __str__(self) -> str:
        return f"{self.provider}/{self.pattern}"


@dataclass(frozen=True, slots=True)
class Matrix:
    """A routing matrix: for each role, the candidates to try in order."""

    name: str
    roles: Mapping[str, tuple[Candidate, ...]]

    def with_roles(self, overrides: Mapping[str, Sequence[str]]) -> Matrix:
        """This matrix with each named role's candidate list replaced (`routing.roles`)."""
        roles = dict(self.roles)
        for role, texts in overrides.items():
            where = f"routing.roles.{role}"
            if role not in ROLES:
                raise ConfigError(
                    f"{where}: unknown role (allowed: {', '.join(ROLES)})",
                    code="config_unknown_key",
                )
            try:
                roles[role] = tuple(Candidate.parse(text) for text in texts)
            except ValueError as exc:
                raise ConfigError(f"{where}: {exc}", code="config_invalid_type") from exc
        return Matrix(self.name, MappingProxyType(roles))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "roles": {r: [str(c) for c in cs] for r, cs in self.roles.items()},
        }


@dataclass(frozen=True, slots=True)
class UsableProvider:
    """A provider a role may resolve to; `models` is None when its model list could not be had."""

    provider_id: str
    module: str
    models: Sequence[ModelInfo] | None = None


@dataclass(frozen=True, slots=True)
class ModelChoice:
    provider_id: str
    model: str


def load_matrix(name: str, *, directory: Traversable | None = None) -> Matrix:
    """The shipped matrix `name` (read from `directory`, default the packaged `matrices/`)."""
    if name not in MATRIX_NAMES:
        raise ConfigError(
            f"routing.matrix: unknown matrix {name!r} (valid: {', '.join(MATRIX_NAMES)})",
            code="config_invalid_type",
        )
    if directory is None:
        return _packaged_matrix(name)
    return _read_matrix(name, directory)


@cache
def _packaged_matrix(name: str) -> Matrix:
    """Shipped matrices never change while the process runs (a `Matrix` is immutable)."""
    return _read_matrix(name, files(_PACKAGE) / "matrices")


def _read_matrix(name: str, directory: Traversable) -> Matrix:
    source = directory / f"{name}.json"
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
        return _parse_matrix(name, document)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AmplifierError(
            f"packaged routing matrix {name!r} is unreadable: {exc}", code="bundle_load_failed"
        ) from exc


def _parse_matrix(name: str, document: Any) -> Matrix:
    if not isinstance(document, dict) or document.get("name") != name:
        raise ValueError(f"expected an object named {name!r}")
    roles = document.get("roles")
    if not isinstance(roles, dict) or set(roles) != set(ROLES):
        raise ValueError(f"`roles` must have exactly the keys {', '.join(ROLES)}")
    parsed: dict[str, tuple[Candidate, ...]] = {}
    for role in ROLES:
        texts = roles[role]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError(f"`roles.{role}` must be a non-empty list of strings")
        parsed[role] = tuple(Candidate.parse(text) for text in texts)
    return Matrix(name, MappingProxyType(parsed))


def select_matrix(
    configured: str | None,
    role_overrides: Mapping[str, Sequence[str]],
    active_module: str | None,
    *,
    directory: Traversable | None = None,
) -> Matrix:
    """The matrix for this turn: chosen by `matrix_name_for`, then `routing.roles` applied."""
    name, _ = matrix_name_for(configured, active_module)
    return load_matrix(name, directory=directory).with_roles(role_overrides)


def resolve_role(matrix: Matrix, role: str, usable: Sequence[UsableProvider]) -> ModelChoice | None:
    """The first candidate of `role` that some usable provider can serve, else None."""
    for candidate in matrix.roles.get(role, ()):
        for provider in usable:
            if candidate.provider not in (_ANY_PROVIDER, provider.provider_id, provider.module):
                continue
            model = _match(candidate, provider)
            if model is not None:
                return ModelChoice(provider.provider_id, model)
    return None


def _match(candidate: Candidate, provider: UsableProvider) -> str | None:
    if not candidate.is_glob:
        return candidate.pattern
    return newest_matching(provider.models or (), candidate.pattern)


def newest_matching(models: Sequence[ModelInfo], pattern: str) -> str | None:
    """The id of the newest model whose id matches `pattern` (ties: the greatest id)."""
    matches = [m for m in models if fnmatchcase(m.id, pattern)]
    if not matches:
        return None
    return max(matches, key=lambda m: (m.created, m.id)).id


def root_model_for_run(
    active: UsableProvider, config: Mapping[str, Any], matrix: Matrix
) -> ModelChoice | None:
    """The `run` model: `config.default_model`, else role `general` on the active provider only,
    else the catalog fallback; None means the caller reports `provider_not_configured`."""
    default_model = config.get("default_model")
    if isinstance(default_model, str) and default_model.strip():
        return ModelChoice(active.provider_id, default_model)
    general = resolve_role(matrix, "general", [active])
    if general is not None:
        return general
    fallback = _catalog_fallback(active)
    return ModelChoice(active.provider_id, fallback) if fallback else None


def _catalog_fallback(active: UsableProvider) -> str | None:
    spec = KNOWN_PROVIDERS.get(active.module)
    if spec is None:
        return None
    if spec.fallback_model is None and active.module == "ollama":
        # The catalog's ollama fallback is "the newest listed model" rather than a fixed id.
        return newest_matching(active.models or (), "*")
    return spec.fallback_model
