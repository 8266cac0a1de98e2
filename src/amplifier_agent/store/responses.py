"""Stored Responses (`store: true`) in the file store: one private JSON file per response id
under `<workspaces_root>/<workspace>/responses/`, holding what `GET /v1/responses/{id}` returns
and what `previous_response_id` continues from."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from amplifier_agent.core.fsio import atomic_write

RESPONSES_DIR = "responses"

#: The ids this server mints; anything else cannot name a stored record (no path tricks).
RESPONSE_ID_RE = re.compile(r"resp_[0-9a-f]{32}")


def is_response_id(response_id: str) -> bool:
    return RESPONSE_ID_RE.fullmatch(response_id) is not None


def validate_response_id(response_id: str) -> None:
    if not is_response_id(response_id):
        raise ValueError("not a response id minted here")


def encode_record(record: dict[str, Any]) -> str:
    """The stored text of a record (key order kept, so a GET returns what was stored)."""
    return json.dumps(record, ensure_ascii=False)


def decode_record(text: str | bytes) -> dict[str, Any] | None:
    record = json.loads(text)
    return record if isinstance(record, dict) else None


def save_response_file(directory: Path, response_id: str, record: dict[str, Any]) -> None:
    validate_response_id(response_id)
    atomic_write(directory / f"{response_id}.json", encode_record(record).encode())


def load_response_file(directory: Path, response_id: str) -> dict[str, Any] | None:
    """The stored record, or None for an id this directory does not hold."""
    if not is_response_id(response_id):
        return None
    try:
        return decode_record((directory / f"{response_id}.json").read_bytes())
    except FileNotFoundError:
        return None
