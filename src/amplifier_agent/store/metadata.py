"""`metadata.json` (SPEC §2.3): per-session totals and the outcome of the last turn; the total
cost becomes `null` once any turn's cost was unknown and stays `null`."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, get_args

from amplifier_agent.core.errors import SessionError, storage_error
from amplifier_agent.core.usage import Usage, format_decimal
from amplifier_agent.store.files import atomic_write, utc_now

METADATA_NAME = "metadata.json"
SCHEMA_VERSION = 1

LastTurn = Literal["complete", "client_reconciled", "failed", "cancelled", "client_disconnected"]
LAST_TURN_VALUES: frozenset[str] = frozenset(get_args(LastTurn))


@dataclass(frozen=True, slots=True)
class SessionMetadata:
    """The contents of `metadata.json`; `last_turn` is None until the first turn ends."""

    session_id: str
    workspace: str
    cwd: str
    created_at: str
    updated_at: str
    last_turn: LastTurn | None = None
    turns: int = 0
    tokens_in_total: int = 0
    tokens_out_total: int = 0
    cost_usd_total: Decimal | None = Decimal(0)

    def after_turn(
        self, usage: Usage, status: LastTurn, *, now: str | None = None
    ) -> SessionMetadata:
        """The metadata once one more turn ended with `status` and spent `usage`.

        Input tokens count everything the model read (cache buckets included), like `tokensIn`.
        """
        cost = (
            None
            if self.cost_usd_total is None or usage.cost_usd is None
            else self.cost_usd_total + usage.cost_usd
        )
        return dataclasses.replace(
            self,
            updated_at=now or utc_now(),
            last_turn=status,
            turns=self.turns + 1,
            tokens_in_total=self.tokens_in_total + usage.prompt_tokens,
            tokens_out_total=self.tokens_out_total + usage.output_tokens,
            cost_usd_total=cost,
        )

    def with_last_turn(self, status: LastTurn, *, now: str | None = None) -> SessionMetadata:
        """The metadata with only `last_turn` changed (for example `client_reconciled`)."""
        return dataclasses.replace(self, last_turn=status, updated_at=now or utc_now())

    def to_json(self) -> dict[str, Any]:
        cost = None if self.cost_usd_total is None else format_decimal(self.cost_usd_total)
        return {
            "schema_version": SCHEMA_VERSION,
            "sessionId": self.session_id,
            "workspace": self.workspace,
            "cwd": self.cwd,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "last_turn": self.last_turn,
            "turns": self.turns,
            "tokensInTotal": self.tokens_in_total,
            "tokensOutTotal": self.tokens_out_total,
            "costUsdTotal": cost,
        }


def new_metadata(
    session_id: str, workspace: str, cwd: str, *, now: str | None = None
) -> SessionMetadata:
    """The metadata of a session that has not run a turn yet."""
    stamp = now or utc_now()
    return SessionMetadata(session_id, workspace, cwd, created_at=stamp, updated_at=stamp)


def metadata_from_json(data: Any) -> SessionMetadata:
    """Parse `metadata.json` contents; raises `ValueError` on any other shape."""
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"expected an object with schema_version {SCHEMA_VERSION}")
    last_turn = data.get("last_turn")
    if last_turn is not None and last_turn not in LAST_TURN_VALUES:
        raise ValueError(f"unknown last_turn {last_turn!r}")
    return SessionMetadata(
        session_id=_string(data, "sessionId"),
        workspace=_string(data, "workspace"),
        cwd=_string(data, "cwd"),
        created_at=_string(data, "createdAt"),
        updated_at=_string(data, "updatedAt"),
        last_turn=last_turn,
        turns=_count(data, "turns"),
        tokens_in_total=_count(data, "tokensInTotal"),
        tokens_out_total=_count(data, "tokensOutTotal"),
        cost_usd_total=_cost(data.get("costUsdTotal")),
    )


def _string(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer")
    return value


def _cost(value: Any) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("costUsdTotal must be a decimal string or null")
    try:
        cost = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"costUsdTotal {value!r} is not a decimal") from exc
    if not cost.is_finite():
        raise ValueError(f"costUsdTotal {value!r} is not finite")
    return cost


def read_metadata(path: Path) -> SessionMetadata | None:
    """The metadata at `path`, None when there is none; unreadable or corrupt → `stale_session`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SessionError(
            f"cannot read session metadata {path}: {exc.strerror or exc}", code="stale_session"
        ) from exc
    try:
        return metadata_from_json(json.loads(raw))
    except ValueError as exc:
        raise SessionError(
            f"session metadata {path} is corrupt: {exc}", code="stale_session"
        ) from exc


def write_metadata(path: Path, metadata: SessionMetadata) -> None:
    """Write `metadata.json` atomically as a 0600 file."""
    text = json.dumps(metadata.to_json(), indent=2, ensure_ascii=False) + "\n"
    try:
        atomic_write(path, text.encode("utf-8"))
    except OSError as exc:
        raise storage_error("write session metadata", path, exc) from exc
