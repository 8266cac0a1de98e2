"""Model descriptions returned by provider listings and served by `/v1/models`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One listed model; limits and capabilities come from packaged metadata (None when unknown)."""

    id: str
    display_name: str
    created: int
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "created": self.created,
            "context_window": self.context_window,
            "max_output_tokens": self.max_output_tokens,
            "capabilities": list(self.capabilities),
            "defaults": dict(self.defaults),
        }
