"""Model limits and capabilities from the packaged glob table `model_metadata.json`.

The first glob matching a model id wins, so the table lists specific globs before general ones.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from importlib import resources
from typing import Any

from amplifier_agent.core.models import ModelInfo

#: Known capability names, in the order they are always reported.
CAPABILITIES: tuple[str, ...] = ("tools", "streaming", "thinking", "vision")

_TABLE_FILE = "model_metadata.json"


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    """What the table says about models matching `glob` (None: unknown)."""

    glob: str
    context_window: int | None
    max_output_tokens: int | None
    capabilities: tuple[str, ...]


def _optional_int(row: dict[str, Any], key: str) -> int | None:
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{_TABLE_FILE}: {row.get('glob')!r}.{key} must be a positive integer")
    return value


def _capabilities(row: dict[str, Any]) -> tuple[str, ...]:
    names = row.get("capabilities") or []
    unknown = set(names) - set(CAPABILITIES)
    if unknown:
        raise ValueError(f"{_TABLE_FILE}: {row.get('glob')!r} has unknown capabilities {unknown}")
    return tuple(name for name in CAPABILITIES if name in names)


def _parse_row(row: dict[str, Any]) -> ModelMetadata:
    glob = row.get("glob")
    if not isinstance(glob, str) or not glob:
        raise ValueError(f"{_TABLE_FILE}: every row needs a non-empty 'glob'")
    return ModelMetadata(
        glob=glob.lower(),
        context_window=_optional_int(row, "context_window"),
        max_output_tokens=_optional_int(row, "max_output_tokens"),
        capabilities=_capabilities(row),
    )


@functools.cache
def metadata_table() -> tuple[ModelMetadata, ...]:
    """The packaged table in match order, read and validated once per process."""
    text = (
        resources.files("amplifier_agent.providers")
        .joinpath(_TABLE_FILE)
        .read_text(encoding="utf-8")
    )
    document = json.loads(text)
    return tuple(_parse_row(row) for row in document["models"])


def lookup(model_id: str) -> ModelMetadata | None:
    """The first row whose glob matches `model_id` (case-insensitive), else None.

    A namespaced id such as `vendor/name` that matches nothing is retried by its last segment,
    because compatible gateways often prefix the upstream model name.
    """
    candidates = [model_id.lower()]
    if "/" in model_id:
        candidates.append(candidates[0].rsplit("/", 1)[1])
    for candidate in candidates:
        for row in metadata_table():
            if fnmatchcase(candidate, row.glob):
                return row
    return None


def enrich(info: ModelInfo) -> ModelInfo:
    """`info` with its unknown limits and capabilities filled from the table.

    Values the provider already reported win; without a matching row `info` comes back unchanged.
    """
    row = lookup(info.id)
    if row is None:
        return info
    return dataclasses.replace(
        info,
        context_window=info.context_window
        if info.context_window is not None
        else row.context_window,
        max_output_tokens=info.max_output_tokens
        if info.max_output_tokens is not None
        else row.max_output_tokens,
        capabilities=info.capabilities or row.capabilities,
    )
