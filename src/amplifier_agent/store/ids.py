"""Session and turn ids (SPEC §2.3): the id grammar, the traversal-safe session directory, and
`turn-<n>` turn ids."""

from __future__ import annotations

import os
import re
from pathlib import Path

from amplifier_agent.core.errors import SessionError

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TURN_ID_RE = re.compile(r"^turn-[1-9][0-9]*$")
#: Faces that keep their sessions apart by prefixing the client's id; the prefix must not count
#: against the client's 128 characters, so a stored name is an id or a prefix plus an id.
HTTP_SESSION_PREFIX = "http-"
FACE_PREFIXES = (HTTP_SESSION_PREFIX,)


def validate_session_id(value: str) -> str:
    """`value` when it matches the id grammar and is not all dots, else `invalid_session`.

    Why: the id becomes a path component, and `.` or `..` would name a directory outside
    `sessions/`.
    """
    if not SESSION_ID_RE.fullmatch(value) or value.strip(".") == "":
        raise SessionError(
            f"session id {value[:140]!r} must match {SESSION_ID_RE.pattern} and not be all dots",
            code="invalid_session",
        )
    return value


def session_dir(sessions_dir: Path, session_id: str) -> Path:
    """The directory of a validated session id; it must resolve inside `sessions_dir`.

    A validated name is one path component other than `.` and `..`, so only an entry that is a
    symlink can lead elsewhere; that one is resolved (every turn of a server would otherwise pay
    for resolving both paths, a system call per component).
    """
    _validate_stored_name(session_id)
    candidate = sessions_dir / session_id
    if not os.path.islink(candidate):
        return candidate
    base = Path(os.path.realpath(sessions_dir))
    resolved = Path(os.path.realpath(candidate))
    if resolved == base or not resolved.is_relative_to(base):
        raise SessionError(
            f"session id {session_id!r} does not resolve inside the sessions directory",
            code="invalid_session",
        )
    return candidate


def _validate_stored_name(value: str) -> None:
    prefix = next((p for p in FACE_PREFIXES if value.startswith(p)), None)
    if prefix is not None and SESSION_ID_RE.fullmatch(value[len(prefix) :]):
        return  # the prefix is path-safe and what follows is a whole valid id
    validate_session_id(value)


def turn_id(index: int) -> str:
    """The id of the `index`-th turn of a session (1-based): `turn-<n>`."""
    if index < 1:
        raise ValueError(f"turn index is 1-based, got {index}")
    return f"turn-{index}"


def validate_turn_id(value: str) -> str:
    """`value` when it is a `turn-<n>` id; it names an audit file, so nothing else is accepted."""
    if not _TURN_ID_RE.fullmatch(value):
        raise ValueError(f"turn id {value!r} is not of the form turn-<n>")
    return value
