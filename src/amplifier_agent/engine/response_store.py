"""Stored Responses (`store: true`): one private JSON file per response id, holding what
`GET /v1/responses/{id}` returns and what `previous_response_id` continues from."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amplifier_agent.config.paths import layout
from amplifier_agent.core.fsio import atomic_write

#: The ids this server mints; anything else cannot name a stored file (no path tricks).
RESPONSE_ID_RE = re.compile(r"resp_[0-9a-f]{32}")


@dataclass(frozen=True)
class ResponseStore:
    directory: Path

    @classmethod
    def for_workspace(cls, workspace: str) -> ResponseStore:
        return cls(layout().workspaces_dir / workspace / "responses")

    def save(self, response_id: str, record: dict[str, Any]) -> None:
        atomic_write(self._path(response_id), json.dumps(record, ensure_ascii=False).encode())

    def load(self, response_id: str) -> dict[str, Any] | None:
        """The stored record, or None for an id this store does not hold."""
        if not RESPONSE_ID_RE.fullmatch(response_id):
            return None
        try:
            record = json.loads(self._path(response_id).read_bytes())
        except FileNotFoundError:
            return None
        return record if isinstance(record, dict) else None

    def _path(self, response_id: str) -> Path:
        if not RESPONSE_ID_RE.fullmatch(response_id):
            raise ValueError("not a response id minted here")
        return self.directory / f"{response_id}.json"
