"""Per-turn audit records `audits/<turnId>.json` (SPEC §2.3) and the argv/env digests they hold."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amplifier_agent.core.errors import storage_error
from amplifier_agent.store.files import atomic_write
from amplifier_agent.store.ids import validate_turn_id

AUDITS_DIR = "audits"
ENV_PREFIX = "AMPLIFIER_"


def argv_digest(argv: Sequence[str]) -> str:
    """`sha256:` + hex digest of the argv joined with single spaces."""
    return _digest(" ".join(argv))


def env_digest(env: Mapping[str, str]) -> str:
    """`sha256:` + hex digest of the sorted names of `AMPLIFIER_*` variables, one per line.

    Names only, never values: the record must not leak secrets. The names are joined with `\\n`
    and there is no trailing newline; no variable present digests the empty string.
    """
    names = sorted(name for name in env if name.startswith(ENV_PREFIX))
    return _digest("\n".join(names))


def _digest(text: str) -> str:
    data = text.encode("utf-8", "surrogateescape")
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What one turn of a session ran with and how it ended; times are ISO UTC strings."""

    argv_digest: str
    env_digest: str
    protocol_version: str
    exit_code: int
    correlation_id: str
    started_at: str
    ended_at: str

    @classmethod
    def build(
        cls,
        *,
        argv: Sequence[str],
        env: Mapping[str, str],
        protocol_version: str,
        exit_code: int,
        correlation_id: str,
        started_at: str,
        ended_at: str,
    ) -> AuditRecord:
        """A record whose digests are computed from the raw argv and environment."""
        return cls(
            argv_digest=argv_digest(argv),
            env_digest=env_digest(env),
            protocol_version=protocol_version,
            exit_code=exit_code,
            correlation_id=correlation_id,
            started_at=started_at,
            ended_at=ended_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "argvDigest": self.argv_digest,
            "envDigest": self.env_digest,
            "protocolVersion": self.protocol_version,
            "exitCode": self.exit_code,
            "correlationId": self.correlation_id,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
        }


def audit_path(session_dir: Path, turn_id: str) -> Path:
    """`<session>/audits/<turnId>.json`; only `turn-<n>` ids are accepted."""
    return session_dir / AUDITS_DIR / f"{validate_turn_id(turn_id)}.json"


def write_audit(session_dir: Path, turn_id: str, record: AuditRecord) -> Path:
    """Write one turn's audit record atomically (0600, in a 0700 `audits/`).

    A write failure raises `StorageError`.
    """
    return write_audit_json(session_dir, turn_id, record.to_json())


def write_audit_json(session_dir: Path, turn_id: str, record: Mapping[str, Any]) -> Path:
    """`write_audit` for a record already in its JSON shape (as a store export carries it)."""
    path = audit_path(session_dir, turn_id)
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    try:
        atomic_write(path, text.encode("utf-8"))
    except OSError as exc:
        raise storage_error("write audit record", path, exc) from exc
    return path
