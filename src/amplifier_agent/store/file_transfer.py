"""Reading every session out of the files under the state root, and writing one back, for
`store export` / `store import`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from amplifier_agent.core.errors import SessionError, storage_error
from amplifier_agent.store import ids
from amplifier_agent.store.audit import AUDITS_DIR, write_audit_json
from amplifier_agent.store.files import atomic_write, ensure_private_dir
from amplifier_agent.store.metadata import METADATA_NAME, read_metadata, write_metadata
from amplifier_agent.store.responses import RESPONSES_DIR, is_response_id, load_response_file
from amplifier_agent.store.sessions import SESSIONS_DIR
from amplifier_agent.store.transcript import TRANSCRIPT_NAME, encode_line, load_entries
from amplifier_agent.store.transfer import ResponseDump, SessionDump


def _subdirs(directory: Path) -> list[Path]:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise storage_error("list", directory, exc) from exc
    return [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]


def dump_files(workspaces_root: Path) -> Iterator[SessionDump]:
    """Every session directory, workspace by workspace, in name order."""
    for workspace_dir in _subdirs(workspaces_root):
        for session_dir in _subdirs(workspace_dir / SESSIONS_DIR):
            try:
                ids.validate_session_id(session_dir.name)
            except SessionError:
                continue  # not a session this engine could have written
            yield SessionDump(
                workspace=workspace_dir.name,
                session_id=session_dir.name,
                metadata=read_metadata(session_dir / METADATA_NAME),
                entries=tuple(load_entries(session_dir / TRANSCRIPT_NAME)),
                audits=_audits(session_dir / AUDITS_DIR),
            )


def dump_response_files(workspaces_root: Path) -> Iterator[ResponseDump]:
    """Every stored Response, workspace by workspace, in id order."""
    for workspace_dir in _subdirs(workspaces_root):
        directory = workspace_dir / RESPONSES_DIR
        for path in sorted(directory.glob("resp_*.json")):
            if not is_response_id(path.stem):
                continue  # not a response this engine could have written
            try:
                record = load_response_file(directory, path.stem)
            except (OSError, ValueError):
                continue  # an unreadable record is a lost response, not a reason to stop
            if record is not None:
                yield ResponseDump(workspace_dir.name, path.stem, record)


def _audits(directory: Path) -> dict[str, Any]:
    audits: dict[str, Any] = {}
    for path in sorted(directory.glob("turn-*.json")):
        try:
            audits[ids.validate_turn_id(path.stem)] = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue  # an unreadable audit is a lost record, not a reason to stop the export
    return audits


def restore_files(workspaces_root: Path, dump: SessionDump) -> None:
    """Write `dump` as its session directory, replacing what the directory held."""
    directory = ids.session_dir(workspaces_root / dump.workspace / SESSIONS_DIR, dump.session_id)
    transcript = directory / TRANSCRIPT_NAME
    try:
        ensure_private_dir(directory)
        atomic_write(transcript, b"".join(encode_line(e.message, e.ts) for e in dump.entries))
    except OSError as exc:
        raise storage_error("write transcript", transcript, exc) from exc
    if dump.metadata is not None:
        write_metadata(directory / METADATA_NAME, dump.metadata)
    for turn_id, record in dump.audits.items():
        write_audit_json(directory, turn_id, record)
