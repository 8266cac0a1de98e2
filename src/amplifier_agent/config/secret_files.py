"""Secret files (SPEC §2.1): atomic 0600 writes that leave the old file intact on failure, and
reads that refuse symlinks and foreign files and never mistake corrupt JSON for an empty file."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from amplifier_agent.config.paths import ensure_private_dir
from amplifier_agent.core.errors import ConfigError

_LOG = logging.getLogger(__name__)

_UTF8_BOM = b"\xef\xbb\xbf"
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)


def dumps_secret_json(obj: Any) -> bytes:
    """The on-disk form: indent-2 JSON, sorted keys, trailing newline."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_secret_json(path: Path, obj: Any) -> None:
    """Serialize `obj` and write it atomically as a 0600 file (see `write_secret_bytes`)."""
    write_secret_bytes(path, dumps_secret_json(obj))


def write_secret_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically; on any failure the old file stays byte-identical.

    The temp file is unique and created exclusively in the same directory (so `os.replace` is a
    rename on one filesystem); the data and then the directory entry are fsynced before returning.
    """
    directory = ensure_private_dir(path.parent)
    temp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(temp, _CREATE_FLAGS, 0o600)
        try:
            os.fchmod(fd, 0o600)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_dir(directory)
    os.chmod(path, 0o600)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(dir_fd)
    except OSError as exc:
        # Some filesystems cannot fsync a directory; the rename itself already happened.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(dir_fd)


def read_secret_bytes(path: Path, *, corrupt_code: str = "credentials_corrupt") -> bytes | None:
    """The file's bytes, or None when it does not exist.

    Refuses symlinks, non-regular files and files owned by another user (`ConfigError` with
    `corrupt_code`, naming the path); a group/other-accessible file is tightened to 0600 with a
    warning.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _open_error(path, exc, corrupt_code) from exc
    try:
        _check_secret_fd(fd, path, corrupt_code)
        chunks: list[bytes] = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", code=corrupt_code) from exc
    finally:
        os.close(fd)


def _open_error(path: Path, exc: OSError, code: str) -> ConfigError:
    if exc.errno in (errno.ELOOP, errno.EMLINK) or os.path.islink(path):
        return ConfigError(f"refusing to read {path}: it is a symbolic link", code=code)
    return ConfigError(f"cannot read {path}: {exc.strerror}", code=code)


def _check_secret_fd(fd: int, path: Path, code: str) -> None:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"refusing to read {path}: not a regular file", code=code)
    if info.st_uid != os.getuid():
        raise ConfigError(
            f"refusing to read {path}: owned by uid {info.st_uid}, not {os.getuid()}", code=code
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        _LOG.warning("%s was readable by group or others (mode %o); tightened to 600", path, mode)
        os.fchmod(fd, 0o600)


def parse_secret_json(data: bytes, path: Path, *, corrupt_code: str = "credentials_corrupt") -> Any:
    """Decode UTF-8 (a BOM is tolerated) and parse JSON; any failure names the path."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid UTF-8 (byte {exc.start})", code=corrupt_code
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            code=corrupt_code,
        ) from exc


def read_secret_json(
    path: Path, *, corrupt_code: str = "credentials_corrupt"
) -> dict[str, Any] | None:
    """The JSON object in the file, or None when the file does not exist.

    Secret files always hold an object, so any other root (`null` included) is corrupt rather
    than being confused with an absent file.
    """
    data = read_secret_bytes(path, corrupt_code=corrupt_code)
    if data is None:
        return None
    document = parse_secret_json(data, path, corrupt_code=corrupt_code)
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must hold a JSON object", code=corrupt_code)
    return document
