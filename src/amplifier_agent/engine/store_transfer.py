"""`store export` / `store import`: a whole store as JSON lines (sessions, stored Responses, then
ledger lines),
so a single-machine user can move to a shared database, or back, without losing sessions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from amplifier_agent.core.errors import ConfigError, SessionError, StorageError
from amplifier_agent.store.ledger import LedgerRecord
from amplifier_agent.store.protocol import StoreBackend
from amplifier_agent.store.transfer import ResponseDump, SessionDump, ledger_line, parse_line


@dataclass(frozen=True, slots=True)
class Transferred:
    sessions: int
    ledger_lines: int
    responses: int = 0


def _line(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def export_store(store: StoreBackend, write: Callable[[str], object]) -> Transferred:
    sessions = _write_all(store.dump_sessions(), write)
    responses = _write_all(store.dump_responses(), write)
    records = store.read_ledger()
    for record in records:
        write(_line(ledger_line(record)))
    return Transferred(sessions, len(records), responses)


def _write_all(dumps: Iterable[SessionDump | ResponseDump], write: Callable[[str], object]) -> int:
    written = 0
    for dump in dumps:
        write(_line(dump.to_json()))
        written += 1
    return written


def import_store(store: StoreBackend, lines: Iterable[str], source: str) -> Transferred:
    """Every line is checked before anything is written: a bad line (`config_validation`,
    naming the line) leaves the store untouched. Sessions and stored Responses replace those of
    the same id; ledger lines are appended, so import into a store that has not seen them."""
    items = _parse(lines, source)
    sessions = [item for item in items if isinstance(item, SessionDump)]
    responses = [item for item in items if isinstance(item, ResponseDump)]
    records = [item for item in items if isinstance(item, LedgerRecord)]
    for dump in sessions:
        store.restore_session(dump)
    for response in responses:
        store.sessions(response.workspace).save_response(
            response.response_id, dict(response.record)
        )
    lost = sum(not store.append_ledger(record) for record in records)
    if lost:
        raise StorageError(f"{lost} of {len(records)} ledger lines could not be stored")
    return Transferred(len(sessions), len(records), len(responses))


def _parse(lines: Iterable[str], source: str) -> list[SessionDump | ResponseDump | LedgerRecord]:
    items: list[SessionDump | ResponseDump | LedgerRecord] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(parse_line(json.loads(line)))
        except (ValueError, SessionError) as exc:
            reason = exc.message if isinstance(exc, SessionError) else str(exc)
            raise ConfigError(f"{source}, line {number}: {reason}") from exc
    return items
