"""Real storage faults for tests: a tiny tmpfs that is full, or one remounted read-only.

Both need root (mount); without it the test is skipped with the reason. chmod cannot stand in for
a read-only filesystem: root writes through any mode bits.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TMPFS_SIZE = "64k"


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def tmpfs(directory: Path, size: str = TMPFS_SIZE) -> Iterator[Path]:
    """A fresh tmpfs of `size` mounted on `directory` (created 0700) for the block."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) to create a small tmpfs")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(directory))
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False, capture_output=True)


def fill(directory: Path) -> None:
    """Write a filler file until the filesystem holding `directory` has no space left."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)


def remount_read_only(directory: Path) -> None:
    _mount("-o", "remount,ro", str(directory))


@contextlib.contextmanager
def faulty_root(
    directory: Path, fault: str, prepare: Callable[[Path], None] | None = None
) -> Iterator[Path]:
    """A tmpfs on `directory`, set up by `prepare`, then made `full` or `read-only`."""
    with tmpfs(directory) as root:
        if prepare is not None:
            prepare(root)
        if fault == "full":
            fill(root)
        elif fault == "read-only":
            remount_read_only(root)
        else:
            raise ValueError(f"unknown fault {fault!r}")
        yield root
