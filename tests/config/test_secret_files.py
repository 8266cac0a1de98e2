"""Secret files: atomic 0600 writes, refusals and tightening on read, corrupt never empty
(SPEC §2.1)."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import NoReturn

import pytest

from amplifier_agent.config import secret_files
from amplifier_agent.config.secret_files import read_secret_json, write_secret_json
from amplifier_agent.core.errors import ConfigError


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def boom(*_args: object, **_kwargs: object) -> NoReturn:
    raise OSError(28, "No space left on device")


def test_write_creates_a_0600_file_in_a_0700_dir(tmp_path: Path) -> None:
    target = tmp_path / "home" / "secret.json"
    write_secret_json(target, {"b": 1, "a": {"z": True, "y": None}})
    assert mode_of(target) == 0o600
    assert mode_of(target.parent) == 0o700
    expected = '{\n  "a": {\n    "y": null,\n    "z": true\n  },\n  "b": 1\n}\n'
    assert target.read_text() == expected


def test_write_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "dir" / "secret.json"
    write_secret_json(target, {"v": 1})
    write_secret_json(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 2}
    assert sorted(p.name for p in target.parent.iterdir()) == ["secret.json"]


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_a_failed_write_keeps_the_old_file_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "dir" / "secret.json"
    write_secret_json(target, {"old": "value"})
    before = target.read_bytes()
    mtime = os.stat(target).st_mtime_ns
    monkeypatch.setattr(secret_files.os, failing, boom)
    with pytest.raises(OSError):
        write_secret_json(target, {"new": "value"})
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert os.stat(target).st_mtime_ns == mtime
    assert sorted(p.name for p in target.parent.iterdir()) == ["secret.json"]


def test_a_symlinked_target_is_replaced_not_followed_on_write(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("untouched")
    target = tmp_path / "secret.json"
    target.symlink_to(elsewhere)
    write_secret_json(target, {"v": 1})
    assert elsewhere.read_text() == "untouched"
    assert not target.is_symlink()


def test_missing_file_reads_as_none(tmp_path: Path) -> None:
    assert read_secret_json(tmp_path / "absent.json") is None


def test_symlinks_are_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text('{"k": "v"}')
    os.chmod(real, 0o600)
    link = tmp_path / "secret.json"
    link.symlink_to(real)
    with pytest.raises(ConfigError) as caught:
        read_secret_json(link)
    assert caught.value.code == "credentials_corrupt"
    assert str(link) in caught.value.message
    assert "symbolic link" in caught.value.message


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_files_owned_by_someone_else_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "secret.json"
    target.write_text("{}")
    os.chmod(target, 0o600)
    os.chown(target, 54321, -1)
    with pytest.raises(ConfigError) as caught:
        read_secret_json(target, corrupt_code="serve_state_corrupt")
    assert caught.value.code == "serve_state_corrupt"
    assert "owned by uid 54321" in caught.value.message


def test_group_readable_files_are_warned_about_and_tightened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "secret.json"
    target.write_text('{"k": "v"}')
    os.chmod(target, 0o640)
    with caplog.at_level(logging.WARNING):
        assert read_secret_json(target) == {"k": "v"}
    assert mode_of(target) == 0o600
    assert str(target) in caplog.text
    assert "640" in caplog.text


def test_private_files_read_without_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "secret.json"
    write_secret_json(target, {"k": "v"})
    with caplog.at_level(logging.WARNING):
        read_secret_json(target)
    assert caplog.text == ""


@pytest.mark.parametrize("content", [b"{not json", b"", b"   \n", b'{"a": 1'])
def test_corrupt_json_is_an_error_not_empty(tmp_path: Path, content: bytes) -> None:
    target = tmp_path / "secret.json"
    target.write_bytes(content)
    os.chmod(target, 0o600)
    with pytest.raises(ConfigError) as caught:
        read_secret_json(target, corrupt_code="serve_state_corrupt")
    assert caught.value.code == "serve_state_corrupt"
    assert str(target) in caught.value.message
    assert target.read_bytes() == content


def test_a_bom_is_tolerated(tmp_path: Path) -> None:
    target = tmp_path / "secret.json"
    target.write_bytes(b'\xef\xbb\xbf{"k": "v"}')
    os.chmod(target, 0o600)
    assert read_secret_json(target) == {"k": "v"}


def test_non_utf8_is_a_clean_error(tmp_path: Path) -> None:
    target = tmp_path / "secret.json"
    target.write_bytes(b'{"k": "\xff\xfe"}')
    os.chmod(target, 0o600)
    with pytest.raises(ConfigError) as caught:
        read_secret_json(target)
    assert "not valid UTF-8" in caught.value.message
    assert str(target) in caught.value.message


@pytest.mark.parametrize("content", [b"null", b"[]", b'"text"'])
def test_a_non_object_root_is_corrupt_not_absent(tmp_path: Path, content: bytes) -> None:
    target = tmp_path / "secret.json"
    target.write_bytes(content)
    os.chmod(target, 0o600)
    with pytest.raises(ConfigError) as caught:
        read_secret_json(target)
    assert "must hold a JSON object" in caught.value.message
