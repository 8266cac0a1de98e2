"""Private on-disk primitives for the store: 0700 directories, 0600 atomic rewrites and
appends that land as one write, and the ISO UTC timestamps every record carries."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from datetime import UTC, datetime
from pathlib import Path

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_APPEND_FLAGS = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC


def utc_now() -> str:
    """The current time as ISO 8601 UTC with milliseconds and a `Z` suffix."""
    return iso_utc(datetime.now(UTC))


def iso_utc(moment: datetime) -> str:
    """`moment` as ISO 8601 UTC (`2025-01-31T12:00:00.123Z`); naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and its missing parents as 0700; an existing directory is left as it is.

    Raises `NotADirectoryError` when something other than a directory is in the way.
    """
    missing: list[Path] = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        # mkdir's mode is filtered by the umask; set it explicitly.
        os.chmod(directory, 0o700)
    if not stat.S_ISDIR(os.stat(path).st_mode):
        raise NotADirectoryError(f"{path} exists and is not a directory")
    return path


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data`; a short write on a regular file is resumed, not ignored."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def append_bytes(path: Path, data: bytes) -> None:
    """Append `data` to a 0600 file with `O_APPEND` in one `write` call, then `fsync`.

    One write keeps concurrent appenders from interleaving inside a line. A file whose last line
    was torn (no final newline) first gets a newline, so the torn bytes cannot swallow `data`.
    """
    fd = os.open(path, _APPEND_FLAGS, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        written = os.write(fd, data)
        if written != len(data):
            write_all(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` through a unique 0600 temp file, `fsync` and `os.replace`.

    On failure the temp file is removed and the old file stays as it was.
    """
    directory = ensure_private_dir(path.parent)
    temp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(temp, _CREATE_FLAGS, 0o600)
        try:
            os.fchmod(fd, 0o600)
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    # Persist the rename itself; some filesystems refuse fsync on a directory, which is harmless.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
