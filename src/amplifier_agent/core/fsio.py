"""Private-file primitives shared by config and store: 0700 directories, atomic 0600 rewrites
and single-write appends. Stdlib only; callers map `OSError` to their own errors."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_APPEND_FLAGS = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
_LOG = logging.getLogger(__name__)


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700 and verify the result is a private directory.

    An existing directory owned by us that group or others can access is tightened with a warning,
    because it may hold secrets. Raises `NotADirectoryError` when something else is in the way.
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
    info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(f"{path} exists and is not a directory")
    _tighten(path, info)
    return path


def tighten_private_dir(path: Path) -> None:
    """Tighten an existing directory of ours that group or others can access to 0700, with one
    warning; a directory that cannot be changed (a read-only filesystem) is left as it is."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            _tighten(path, info)
    except OSError as exc:
        _LOG.debug("could not tighten %s: %s", path, exc)


def _tighten(path: Path, info: os.stat_result) -> None:
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        os.chmod(path, 0o700)
        _LOG.warning(
            "%s was accessible by group or others (mode %o); tightened to 700",
            path,
            stat.S_IMODE(info.st_mode),
        )


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data`; a short write on a regular file is resumed, not ignored."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically; on any failure the old file stays byte-identical.

    The temp file is unique and created exclusively (0600, no symlink following) in the same
    directory, so `os.replace` is a rename on one filesystem; the data and then the directory
    entry are fsynced, and the final file is 0600.
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
    fsync_dir(directory)
    os.chmod(path, 0o600)


def fsync_dir(directory: Path) -> None:
    """Persist a rename; filesystems that cannot fsync a directory are tolerated."""
    dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(dir_fd)


def append_bytes(path: Path, data: bytes) -> None:
    """Append `data` to a 0600 file with `O_APPEND` in one `write` call, then `fsync`.

    One write keeps concurrent appenders from interleaving inside a line. A file whose last line
    was torn (no final newline) first gets a newline, so the torn bytes cannot swallow `data`;
    an exclusive `flock` makes that check and the write one step for every appender, since a
    concurrent write in progress would otherwise look like a torn line.
    """
    fd = os.open(path, _APPEND_FLAGS, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        written = os.write(fd, data)
        if written != len(data):
            write_all(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (a 0600 file in a 0700 directory, created if missing)
    for the duration of the block, waiting for any other holder first.

    The lock file is never deleted: unlinking it would let a waiter lock a file that is no
    longer the one the next process opens.
    """
    ensure_private_dir(path.parent)
    fd = os.open(path, _LOCK_FLAGS, 0o600)
    try:
        os.fchmod(fd, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
