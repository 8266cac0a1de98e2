"""Recording a turn as it ends: the transcript tail (partial text included), the session
metadata and one ledger line — on success, failure and cancellation alike; and the ledger line
of a turn that could not start."""

from __future__ import annotations

import logging
from dataclasses import replace

from amplifier_agent.agent.run import TurnOutcome
from amplifier_agent.core.errors import AmplifierError, StorageError, storage_error
from amplifier_agent.core.messages import AssistantMessage
from amplifier_agent.core.usage import Usage
from amplifier_agent.engine.store_select import default_store
from amplifier_agent.engine.store_writer import offload_last
from amplifier_agent.engine.turn_types import Face, Running, TurnReport
from amplifier_agent.providers.pricing import price_call
from amplifier_agent.store.ledger import LedgerRecord, LedgerStatus
from amplifier_agent.store.metadata import LastTurn
from amplifier_agent.store.protocol import StoreBackend

log = logging.getLogger(__name__)


def internal_error(exc: BaseException) -> AmplifierError:
    return AmplifierError(f"{type(exc).__name__}: {exc}", code="internal")


def record_unstarted(
    face: Face,
    workspace: str,
    session_id: str,
    turn_id: str,
    request_id: str,
    *,
    provider: str,
    error: AmplifierError,
    store: StoreBackend | None = None,
) -> TurnReport:
    """A turn that failed before it could start is still a turn: it gets its ledger line."""
    (store or default_store()).append_ledger(
        LedgerRecord.from_usage(
            Usage(),
            face=face,
            workspace=workspace,
            session_id=session_id,
            turn_id=turn_id,
            request_id=request_id,
            status="failed",
            provider=provider,
            model="",
            usage_estimated=False,
            duration_ms=0,
        ),
    )
    return TurnReport(session_id, turn_id, "", Usage(), 0, error=error)


_LAST_TURN: dict[LedgerStatus, LastTurn] = {
    "completed": "complete",
    "failed": "failed",
    "cancelled": "cancelled",
    "client_disconnected": "client_disconnected",
    "shutdown": "cancelled",
}


async def finish(
    running: Running,
    status: LedgerStatus,
    error: AmplifierError | None,
    outcome: TurnOutcome | None = None,
) -> TurnReport:
    """Persist the transcript tail, metadata and ledger line (on the face's writer thread, if it
    has one); then describe the turn.

    A turn whose session cannot be stored fails with that storage error (unless it had already
    failed), yet keeps the reply the model gave: it was paid for. The ledger line is written
    either way.
    """
    _account_interrupted_call(running)
    return await offload_last(running.setup.writer, _record, running, status, error, outcome)


def _record(
    running: Running,
    status: LedgerStatus,
    error: AmplifierError | None,
    outcome: TurnOutcome | None,
) -> TurnReport:
    setup, state = running.setup, running.state
    storage_error = _persist(running, status)
    if storage_error is not None and error is None:
        error = storage_error
        status = "failed" if status == "completed" else status
    commit_error = _commit(running, _ledger_record(running, status))
    if commit_error is not None and error is None:
        error = commit_error
    reply = outcome.reply if outcome else _answered_reply(running, error)
    choice = running.choice
    return TurnReport(
        session_id=setup.session.session_id if setup.session else "",
        turn_id=setup.turn_id,
        reply=reply,
        usage=state.usage,
        duration_ms=running.duration_ms(),
        error=error,
        host_calls=outcome.host_calls if outcome else (),
        provider_id=choice.provider_id if choice else setup.active.provider_id,
        model=choice.model if choice else (setup.model or ""),
    )


def _ledger_record(running: Running, status: LedgerStatus) -> LedgerRecord:
    setup, choice = running.setup, running.choice
    return LedgerRecord.from_usage(
        running.state.usage,
        face=setup.face,
        workspace=setup.workspace,
        session_id=setup.session.session_id if setup.session else "",
        turn_id=setup.turn_id,
        request_id=setup.request_id,
        status=status,
        provider=choice.provider_id if choice else setup.active.provider_id,
        model=choice.model if choice else (setup.model or ""),
        usage_estimated=running.state.usage_estimated,
        duration_ms=running.duration_ms(),
    )


def _commit(running: Running, record: LedgerRecord) -> StorageError | None:
    """The turn's pending session writes and its ledger line, together where the store can."""
    store = running.setup.store or default_store()
    try:
        store.end_turn(running.setup.session, record)
    except StorageError as error:
        return error
    return None


def _answered_reply(running: Running, error: AmplifierError | None) -> str:
    """The model's final answer when only storing it failed (a checkpoint raised after the
    model had answered without calling tools); otherwise nothing."""
    if not isinstance(error, StorageError) or not running.state.messages:
        return ""
    last = running.state.messages[-1]
    if isinstance(last, AssistantMessage) and not last.tool_calls and not last.interrupted:
        return last.content
    return ""


def _account_interrupted_call(running: Running) -> None:
    """A call cut off mid-stream was still billed upstream: count an estimate of it, priced
    like any call of that model, and mark the turn's usage as estimated."""
    estimate = running.state.interrupted_call_usage()
    if estimate is None:
        return
    choice = running.choice
    module = running.setup.active.module
    model = choice.model if choice else (running.setup.model or "")
    config = running.setup.active.config
    try:
        cost = price_call(estimate, module=module, model=model, override=config.get("pricing"))
    except ValueError:
        cost = None
    running.state.add_estimate(replace(estimate, cost_usd=cost))


def _persist(running: Running, status: LedgerStatus) -> AmplifierError | None:
    """Store the transcript tail and the metadata; a failure is returned, never raised."""
    session = running.setup.session
    try:
        _persist_partial(running)
        if session is not None:
            session.update_metadata(
                running.state.usage, _LAST_TURN[status], cwd=str(running.setup.cwd)
            )
    except AmplifierError as error:
        log.warning("could not store the session: %s", error)
        return error
    except OSError as exc:
        log.warning("could not store the session: %s", exc)
        return storage_error("store the session", exc.filename or "", exc)
    return None


def _persist_partial(running: Running) -> None:
    """Store whatever the turn produced that no checkpoint stored yet (partial text included)."""
    session, state = running.setup.session, running.state
    if state.partial_text:
        state.messages.append(AssistantMessage(content=state.partial_text, interrupted=True))
        state.partial_text = ""
    if session is None:
        return
    if state.needs_rewrite:
        session.rewrite(list(state.messages))
    elif len(state.messages) > state.persisted:
        session.append(list(state.messages[state.persisted :]))
    state.persisted, state.needs_rewrite = len(state.messages), False
