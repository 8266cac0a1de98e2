"""The turn ledger `state/usage.jsonl` (SPEC §2.4): one line per turn on every face, appended with a
single `O_APPEND` write; appends never fail a turn and readers ignore a torn last line."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from amplifier_agent.core.usage import Usage, format_decimal
from amplifier_agent.store.files import append_bytes, ensure_private_dir, utc_now

_LOG = logging.getLogger(__name__)

Face = Literal["cli", "http", "dispatch"]
LedgerStatus = Literal["completed", "failed", "client_disconnected", "cancelled", "shutdown"]
_FACES: frozenset[str] = frozenset(get_args(Face))
_STATUSES: frozenset[str] = frozenset(get_args(LedgerStatus))

# (JSON key, attribute) in line order; JSON keys are the exact SPEC §2.4 names.
_KEYS: tuple[tuple[str, str], ...] = (
    ("ts", "ts"),
    ("face", "face"),
    ("workspace", "workspace"),
    ("sessionId", "session_id"),
    ("turnId", "turn_id"),
    ("requestId", "request_id"),
    ("status", "status"),
    ("provider", "provider"),
    ("model", "model"),
    ("prompt_tokens", "prompt_tokens"),
    ("completion_tokens", "completion_tokens"),
    ("cache_read_tokens", "cache_read_tokens"),
    ("cache_write_tokens", "cache_write_tokens"),
    ("cost_usd", "cost_usd"),
    ("usage_estimated", "usage_estimated"),
    ("duration_ms", "duration_ms"),
)
_STRINGS = ("ts", "workspace", "sessionId", "turnId", "requestId", "provider", "model")
_COUNTS = (
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "duration_ms",
)


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """One ledger line. `session_id` is `""` for a turn without a session; `prompt_tokens`
    counts everything the model read (cache buckets included); `cost_usd` is a decimal string,
    None when unknown."""

    ts: str
    face: Face
    workspace: str
    session_id: str
    turn_id: str
    request_id: str
    status: LedgerStatus
    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: str | None
    usage_estimated: bool
    duration_ms: int

    @classmethod
    def from_usage(
        cls,
        usage: Usage,
        *,
        face: Face,
        workspace: str,
        session_id: str,
        turn_id: str,
        request_id: str,
        status: LedgerStatus,
        provider: str,
        model: str,
        usage_estimated: bool,
        duration_ms: int,
        ts: str | None = None,
    ) -> LedgerRecord:
        """A record for a turn that spent `usage` (summed over all its model calls)."""
        return cls(
            ts=ts or utc_now(),
            face=face,
            workspace=workspace,
            session_id=session_id,
            turn_id=turn_id,
            request_id=request_id,
            status=status,
            provider=provider,
            model=model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            cost_usd=None if usage.cost_usd is None else format_decimal(usage.cost_usd),
            usage_estimated=usage_estimated,
            duration_ms=duration_ms,
        )

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, attribute) for key, attribute in _KEYS}


def encode_record(record: LedgerRecord) -> bytes:
    """One compact JSON line, newline-terminated."""
    text = json.dumps(record.to_json(), ensure_ascii=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def record_from_json(data: Any) -> LedgerRecord:
    """Parse one ledger line's object; raises `ValueError` on any other shape."""
    if not isinstance(data, dict):
        raise ValueError("a ledger line must be a JSON object")
    if data.get("face") not in _FACES or data.get("status") not in _STATUSES:
        raise ValueError("unknown face or status")
    for key in _STRINGS:
        if not isinstance(data.get(key), str):
            raise ValueError(f"{key} must be a string")
    for key in _COUNTS:
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{key} must be an integer")
    if data.get("cost_usd") is not None and not isinstance(data.get("cost_usd"), str):
        raise ValueError("cost_usd must be a string or null")
    if not isinstance(data.get("usage_estimated"), bool):
        raise ValueError("usage_estimated must be a boolean")
    fields: dict[str, Any] = {attribute: data.get(key) for key, attribute in _KEYS}
    return LedgerRecord(**fields)


def append_ledger(path: Path, record: LedgerRecord) -> bool:
    """Append one line (`O_APPEND`, a single write, `fsync`). Returns False after a failure.

    A failure is logged and swallowed: losing a ledger line must never fail the turn.
    """
    try:
        ensure_private_dir(path.parent)
        append_bytes(path, encode_record(record))
    except OSError as exc:
        _LOG.warning("could not append to the turn ledger %s: %s", path, exc)
        return False
    return True


def read_ledger(path: Path) -> list[LedgerRecord]:
    """Every record of the ledger; a missing file is empty.

    An unterminated last line is kept when it parses and otherwise ignored silently (a write cut
    short); other unparsable lines are skipped with a warning.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    *lines, tail = raw.split(b"\n")
    records: list[LedgerRecord] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(record_from_json(json.loads(line)))
        except ValueError as exc:
            _LOG.warning("skipping unparsable line %d of %s: %s", number, path, exc)
    if tail.strip():
        try:
            records.append(record_from_json(json.loads(tail)))
        except ValueError:
            _LOG.debug("ignoring a torn last line in %s", path)
    return records
