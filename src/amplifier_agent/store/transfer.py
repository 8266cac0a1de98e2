"""The JSON-lines shape in which `store export` writes a store and `store import` reads one:
a line per session (metadata, every transcript line with its timestamp, audit records), a line
per stored Response and a line per ledger record. The same shape whichever backend wrote it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from amplifier_agent.store import ids
from amplifier_agent.store.ledger import LedgerRecord, record_from_json
from amplifier_agent.store.metadata import SessionMetadata, metadata_from_json
from amplifier_agent.store.responses import validate_response_id
from amplifier_agent.store.transcript import TranscriptEntry, message_from_dict, message_to_dict

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class SessionDump:
    """Everything one session holds; `metadata` is None for a session that never had any."""

    workspace: str
    session_id: str
    metadata: SessionMetadata | None
    entries: tuple[TranscriptEntry, ...]
    audits: Mapping[str, Mapping[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "session",
            "version": FORMAT_VERSION,
            "workspace": self.workspace,
            "sessionId": self.session_id,
            "metadata": None if self.metadata is None else self.metadata.to_json(),
            "transcript": [message_to_dict(e.message, e.ts) for e in self.entries],
            "audits": {turn: dict(record) for turn, record in self.audits.items()},
        }


@dataclass(frozen=True, slots=True)
class ResponseDump:
    """One stored Response (`store: true`) of one workspace."""

    workspace: str
    response_id: str
    record: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "response",
            "version": FORMAT_VERSION,
            "workspace": self.workspace,
            "responseId": self.response_id,
            "record": dict(self.record),
        }


def ledger_line(record: LedgerRecord) -> dict[str, Any]:
    return {"type": "ledger", "version": FORMAT_VERSION, "record": record.to_json()}


def parse_line(data: Any) -> SessionDump | ResponseDump | LedgerRecord:
    """One exported line's object; raises `ValueError` naming what is wrong."""
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ValueError(f"expected an object with version {FORMAT_VERSION}")
    kind = data.get("type")
    if kind == "ledger":
        return record_from_json(data.get("record"))
    if kind == "response":
        return _response(data)
    if kind != "session":
        raise ValueError(f"unknown type {kind!r}")
    workspace, session_id = _workspace(data), data.get("sessionId")
    if not isinstance(session_id, str):
        raise ValueError("sessionId must be a string")
    ids.validate_session_id(session_id)
    return SessionDump(
        workspace=workspace,
        session_id=session_id,
        metadata=None if data.get("metadata") is None else metadata_from_json(data["metadata"]),
        entries=tuple(_entry(line) for line in _list(data.get("transcript"), "transcript")),
        audits=_audits(data.get("audits")),
    )


def _workspace(data: dict[str, Any]) -> str:
    workspace = data.get("workspace")
    if not isinstance(workspace, str) or not workspace or "/" in workspace:
        raise ValueError("workspace must be a single path component")
    return workspace


def _response(data: dict[str, Any]) -> ResponseDump:
    workspace, response_id, record = _workspace(data), data.get("responseId"), data.get("record")
    if not isinstance(response_id, str):
        raise ValueError("responseId must be a string")
    validate_response_id(response_id)
    if not isinstance(record, dict):
        raise ValueError(f"response {response_id} must hold an object")
    return ResponseDump(workspace, response_id, record)


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list")
    return value


def _entry(line: Any) -> TranscriptEntry:
    message = message_from_dict(line)
    ts = line.get("ts", "")
    return TranscriptEntry(ts if isinstance(ts, str) else "", message)


def _audits(value: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, dict):
        raise ValueError("audits must be an object")
    for turn_id, record in value.items():
        ids.validate_turn_id(turn_id)
        if not isinstance(record, dict):
            raise ValueError(f"audit {turn_id} must be an object")
    return value
