"""`GET /v1/models` and `GET /v1/models/{id}` (SPEC §8.11): the registry snapshot taken at start."""

from __future__ import annotations

from typing import Any

import orjson

from amplifier_agent.core.registry import RegistryEntry


def model_entry(entry: RegistryEntry, created: int) -> dict[str, Any]:
    info = entry.model
    body: dict[str, Any] = {
        "id": entry.id,
        "object": "model",
        "created": created,
        "owned_by": "amplifier-agent",
        "_provider": entry.provider_id,
    }
    if info.display_name and info.display_name != info.id:
        body["display_name"] = info.display_name
    limit = {
        key: value
        for key, value in (("context", info.context_window), ("output", info.max_output_tokens))
        if value
    }
    if limit:
        body["limit"] = limit
    if info.capabilities:
        body["capabilities"] = list(info.capabilities)
        body["reasoning"] = "thinking" in info.capabilities
    if info.defaults:
        body["defaults"] = dict(info.defaults)
    return body


def models_list_body(entries: tuple[RegistryEntry, ...], created: int) -> bytes:
    return orjson.dumps({"object": "list", "data": [model_entry(e, created) for e in entries]})


def find_entry(entries: tuple[RegistryEntry, ...], model_id: str) -> RegistryEntry | None:
    return next((e for e in entries if e.id == model_id), None)
