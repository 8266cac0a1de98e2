"""Secret files (SPEC §2.1): atomic 0600 writes that leave the old file intact on failure, and
reads that refuse symlinks and foreign files and never mistake corrupt JSON for an empty file."""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from amplifier_agent.core.errors import ConfigError
from amplifier_agent.core.fsio import atomic_write

_LOG = logging.getLogger(__name__)

_UTF8_BOM = b"\xef\xbb\xbf"
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)


def dumps_secret_json(obj: Any) -> bytes:
    """The on-disk form: indent-2 JSON, sorted keys, trailing newline."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_secret_json(path: Path, obj: Any) -> None:
    """Serialize `obj` and write it atomically as a 0600 file (see `write_secret_bytes`)."""
    write_secret_bytes(path, dumps_secret_json(obj))


def write_secret_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically as a 0600 file in a 0700 directory; on any failure
    the old file stays byte-identical (see `core.fsio.atomic_write`)."""
    atomic_write(path, data)


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
