"""`run`'s audit records: `audits/<turnId>.json` beside the session (SPEC §7.2 step 9)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime

from amplifier_agent import PROTOCOL_VERSION
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.engine.store_select import default_store
from amplifier_agent.store.audit import AuditRecord
from amplifier_agent.store.protocol import StoreBackend


def write_audit(
    workspace: str,
    session_id: str,
    turn_id: str,
    *,
    argv: Sequence[str],
    exit_code: int,
    correlation_id: str,
    started_at: str,
    ended_at: str,
    store: StoreBackend | None = None,
) -> None:
    """`audits/<turnId>.json`, only with a session id (success and in-turn failure)."""
    if not session_id:
        return
    try:
        session = (store or default_store()).sessions(workspace).find(session_id)
    except AmplifierError:  # a store that cannot be read loses the audit, not the turn
        return
    if session is None:
        return
    record = AuditRecord.build(
        argv=list(argv),
        env=os.environ,
        protocol_version=PROTOCOL_VERSION,
        exit_code=exit_code,
        correlation_id=correlation_id,
        started_at=started_at,
        ended_at=ended_at,
    )
    with suppress(AmplifierError):  # an audit is a record, never a reason to fail the turn
        session.write_audit(turn_id, record)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = ["now_iso", "write_audit"]
