"""The model-list cache `cache/models/<provider_id>.json`, kept 24 h: `{fetched_at, models}`.

Routing globs need each provider's list every turn; the cache keeps `run` from listing on each call.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amplifier_agent.config.paths import ensure_private_dir, layout
from amplifier_agent.config.secret_files import write_secret_json
from amplifier_agent.core.models import ModelInfo

CACHE_TTL_S = 24 * 3600
log = logging.getLogger(__name__)


def cache_path(provider_id: str, env: Mapping[str, str] | None = None) -> Path:
    return layout(env).models_cache(provider_id)


def write_model_cache(provider_id: str, models: Sequence[ModelInfo]) -> None:
    """Store a fresh listing; a failure to cache is logged, never fatal."""
    path = cache_path(provider_id)
    document = {
        "fetched_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "models": [{"id": m.id, "created": m.created} for m in models],
    }
    try:
        ensure_private_dir(path.parent)
        write_secret_json(path, document)
    except OSError as exc:
        log.warning("could not cache the model list at %s: %s", path, exc)


def read_model_cache(provider_id: str, *, now: float | None = None) -> list[ModelInfo] | None:
    """The cached listing if it is younger than the TTL, else None."""
    path = cache_path(provider_id)
    try:
        document: Any = json.loads(path.read_text("utf-8"))
        fetched = datetime.fromisoformat(str(document["fetched_at"]).replace("Z", "+00:00"))
        models = [
            ModelInfo(str(m["id"]), str(m["id"]), int(m["created"])) for m in document["models"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    age = (now if now is not None else time.time()) - fetched.timestamp()
    return models if 0 <= age < CACHE_TTL_S else None


def cache_info() -> list[dict[str, Any]]:
    """`cache/info`: one `{provider, fetched_at, count}` per cached list."""
    directory = layout().models_cache_dir
    entries: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else ():
        try:
            document = json.loads(path.read_text("utf-8"))
            entries.append(
                {
                    "provider": path.stem,
                    "fetched_at": document["fetched_at"],
                    "count": len(document["models"]),
                }
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return entries
