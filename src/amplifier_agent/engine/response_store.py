"""Stored Responses (`store: true`): what `GET /v1/responses/{id}` returns and what
`previous_response_id` continues from, kept in the configured store's workspace so every
instance sharing a database sees them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amplifier_agent.store.protocol import Sessions


@dataclass(frozen=True)
class ResponseStore:
    sessions: Sessions

    def save(self, response_id: str, record: dict[str, Any]) -> None:
        self.sessions.save_response(response_id, record)

    def load(self, response_id: str) -> dict[str, Any] | None:
        """The stored record, or None for an id this store does not hold."""
        return self.sessions.load_response(response_id)
