"""The `run` face's view of the engine: provider selection, sessions for one CLI turn, audits."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from amplifier_agent import PROTOCOL_VERSION
from amplifier_agent.agent.approval import ApprovalMode, ApprovalPolicy, Asker
from amplifier_agent.config.credentials import CredentialResolver
from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.config.provider_select import select_run_provider
from amplifier_agent.core.errors import AmplifierError, SessionError
from amplifier_agent.core.events import DisplayEvent
from amplifier_agent.core.messages import Message, UserMessage
from amplifier_agent.core.usage import Usage
from amplifier_agent.engine.providers import resolve_provider_settings
from amplifier_agent.engine.store_select import default_store
from amplifier_agent.engine.turn import TurnReport, TurnSetup, execute_turn, internal_error
from amplifier_agent.engine.usable import ProviderRef
from amplifier_agent.store.audit import AuditRecord
from amplifier_agent.store.ids import validate_session_id
from amplifier_agent.store.ledger import LedgerRecord
from amplifier_agent.store.protocol import SessionLease, StoreBackend, StoredSession

SessionMode = Literal["auto", "resume", "fresh"]
#: Receives each display event with the session id ("" without one) and the turn id.
EventSink = Callable[[DisplayEvent, str, str], None]


@dataclass(frozen=True, slots=True)
class CliTurn:
    prompt: str
    cwd: Path
    workspace: str
    session_id: str | None
    session_mode: SessionMode
    approval_mode: str
    asker: Asker | None
    host_config: HostConfig
    provider_module: str
    correlation_id: str
    argv: Sequence[str]
    #: Where the session lives (the face opens it); without one, the files.
    store: StoreBackend | None = None

    def backend(self) -> StoreBackend:
        return self.store or default_store()


@dataclass(frozen=True, slots=True)
class CliReport:
    """A `TurnReport` plus what the envelope needs."""

    session_id: str
    turn_id: str
    reply: str
    usage: Usage
    error: AmplifierError | None
    correlation_id: str
    started_at: str
    ended_at: str


def select_provider_module(config: HostConfig) -> str:
    """§7.2 step 2: `provider.module`, else the first provider whose credential resolves."""
    return select_run_provider(config.provider, CredentialResolver()).module


def _session_for(turn: CliTurn) -> tuple[StoredSession | None, list[Message]]:
    """§7.2 step 7: fresh deletes, resume requires, neither resumes-or-creates."""
    if turn.session_id is None:
        return None, []
    store = turn.backend().sessions(turn.workspace)
    if turn.session_mode == "fresh":
        store.delete(turn.session_id)
    found = store.find(turn.session_id)
    if found is None:
        if turn.session_mode == "resume":
            raise SessionError(
                f"no session '{turn.session_id}' in any workspace", code="session_not_found"
            )
        return store.create(turn.session_id, str(turn.cwd)), []
    history, _ = found.load_repaired()
    return found, history


async def run_cli_turn(turn: CliTurn, sink: EventSink) -> CliReport:
    started_at = now_iso()
    try:
        lease = _lock_session(turn)
    except AmplifierError as error:
        return _early_failure(turn, None, "turn-1", error, started_at)
    try:
        return await _locked_cli_turn(turn, sink, started_at)
    finally:
        lease.release()


def _lock_session(turn: CliTurn) -> SessionLease:
    """The session's lock in a store other processes share (a served turn of the same session
    would otherwise run alongside); `session_busy` while another turn holds it."""
    store = turn.backend()
    lease = store.try_lock(turn.workspace, turn.session_id) if turn.session_id else None
    if lease is None and turn.session_id:
        raise SessionError(f"session '{turn.session_id}' is busy", code="session_busy")
    return lease or _NoLease()


class _NoLease:
    def release(self) -> None:
        return None


async def _locked_cli_turn(turn: CliTurn, sink: EventSink, started_at: str) -> CliReport:
    session: StoredSession | None = None
    turn_id = "turn-1"
    try:
        config = turn.host_config.provider.config
        module = turn.provider_module
        resolve_provider_settings(module, module, config)
        session, history = _session_for(turn)
        turn_id = session.next_turn_id() if session else turn_id
    except AmplifierError as error:
        return _early_failure(turn, session, turn_id, error, started_at)
    session_id = session.session_id if session else ""
    report = await execute_turn(
        TurnSetup(
            face="cli",
            cwd=turn.cwd,
            workspace=turn.workspace,
            turn_id=turn_id,
            request_id=turn.correlation_id,
            host_config=turn.host_config,
            active=ProviderRef(module, module, config),
            approval=_policy(turn),
            new_messages=(UserMessage(turn.prompt),),
            history=tuple(history),
            session=session,
            store=turn.store,
        ),
        lambda event: sink(event, session_id, turn_id),
    )
    return _cli_report(turn, report, started_at)


def _policy(turn: CliTurn) -> ApprovalPolicy:
    mode: ApprovalMode = "yes" if turn.approval_mode == "yes" else "no"
    if turn.approval_mode == "prompt":
        mode = "prompt"
    return ApprovalPolicy.build(mode, turn.host_config.approval.patterns, asker=turn.asker)


def failure_report(turn: CliTurn, exc: BaseException, started_at: str) -> CliReport:
    """The report of a turn that died of an unexpected exception outside the turn runner, or
    could not reach its store."""
    error = exc if isinstance(exc, AmplifierError) else internal_error(exc)
    return _early_failure(turn, None, "", error, started_at)


def _early_failure(
    turn: CliTurn,
    session: StoredSession | None,
    turn_id: str,
    error: AmplifierError,
    started_at: str,
) -> CliReport:
    """A turn that failed before it could start is still a turn: it gets its ledger line."""
    turn.backend().append_ledger(
        LedgerRecord.from_usage(
            Usage(),
            face="cli",
            workspace=turn.workspace,
            session_id=session.session_id if session else (turn.session_id or ""),
            turn_id=turn_id,
            request_id=turn.correlation_id,
            status="failed",
            provider=turn.provider_module,
            model="",
            usage_estimated=False,
            duration_ms=0,
        ),
    )
    return CliReport(
        session_id=session.session_id if session else (turn.session_id or ""),
        turn_id=turn_id,
        reply="",
        usage=Usage(),
        error=error,
        correlation_id=turn.correlation_id,
        started_at=started_at,
        ended_at=now_iso(),
    )


def _cli_report(turn: CliTurn, report: TurnReport, started_at: str) -> CliReport:
    return CliReport(
        session_id=report.session_id,
        turn_id=report.turn_id,
        reply=report.reply,
        usage=report.usage,
        error=report.error,
        correlation_id=turn.correlation_id,
        started_at=started_at,
        ended_at=now_iso(),
    )


def write_audit(turn: CliTurn, report: CliReport, exit_code: int) -> None:
    """`audits/<turnId>.json`, only with a session id (success and in-turn failure)."""
    if not report.session_id:
        return
    try:
        session = turn.backend().sessions(turn.workspace).find(report.session_id)
    except AmplifierError:
        return
    if session is None:
        return
    record = AuditRecord.build(
        argv=list(turn.argv),
        env=os.environ,
        protocol_version=PROTOCOL_VERSION,
        exit_code=exit_code,
        correlation_id=turn.correlation_id,
        started_at=report.started_at,
        ended_at=report.ended_at,
    )
    with suppress(AmplifierError):  # an audit is a record, never a reason to fail the turn
        session.write_audit(report.turn_id, record)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = [
    "CliReport",
    "CliTurn",
    "failure_report",
    "now_iso",
    "run_cli_turn",
    "select_provider_module",
    "validate_session_id",
    "write_audit",
]
