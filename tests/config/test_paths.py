"""The state root, derived paths, private directories and workspace slugs (SPEC §2.1, §2.2)."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from amplifier_agent.config import paths
from amplifier_agent.core.errors import ConfigError


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_home_comes_from_the_env_var(tmp_path: Path) -> None:
    env = {"AMPLIFIER_AGENT_HOME": str(tmp_path / "h"), "HOME": "/nowhere"}
    assert paths.resolve_home(env) == (tmp_path / "h", "env:AMPLIFIER_AGENT_HOME")


def test_home_expands_tilde_from_home() -> None:
    env = {"AMPLIFIER_AGENT_HOME": "~/state", "HOME": "/users/someone"}
    assert paths.home(env) == Path("/users/someone/state")


@pytest.mark.parametrize("value", [None, "", "   ", "\t\n"])
def test_blank_home_means_default(value: str | None) -> None:
    env = {"HOME": "/users/someone"}
    if value is not None:
        env["AMPLIFIER_AGENT_HOME"] = value
    assert paths.resolve_home(env) == (Path("/users/someone/.amplifier-agent"), "default")


def test_home_reads_the_process_env_by_default(isolated_home: Path) -> None:
    assert paths.home() == isolated_home


def test_every_path_derives_from_home() -> None:
    layout = paths.layout({"AMPLIFIER_AGENT_HOME": "/r"})
    assert layout.credentials == Path("/r/credentials.json")
    assert layout.serve_json == Path("/r/state/serve.json")
    assert layout.serve_lock == Path("/r/state/serve.lock")
    assert layout.serve_log == Path("/r/state/serve.log")
    assert layout.usage_ledger == Path("/r/state/usage.jsonl")
    assert layout.sessions_dir("ws") == Path("/r/state/workspaces/ws/sessions")
    assert layout.models_cache("openai") == Path("/r/cache/models/openai.json")


def test_private_dirs_are_created_0700_despite_umask(tmp_path: Path, loose_umask: None) -> None:
    target = tmp_path / "a" / "b" / "c"
    assert paths.ensure_private_dir(target) == target
    for directory in (tmp_path / "a", tmp_path / "a" / "b", target):
        assert mode_of(directory) == 0o700


def test_an_open_existing_dir_is_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "open"
    target.mkdir()
    os.chmod(target, 0o755)
    with caplog.at_level(logging.WARNING):
        paths.ensure_private_dir(target)
    assert mode_of(target) == 0o700
    assert str(target) in caplog.text


def test_a_file_in_the_way_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NotADirectoryError):
        paths.ensure_private_dir(blocker)


def test_slug_of_a_plain_path() -> None:
    assert paths.workspace_slug("/home/u/proj") == "-home-u-proj"


def test_slug_deletes_colons_and_maps_backslashes() -> None:
    assert paths.workspace_slug("/tmp/a:b\\c") == "-tmp-ab-c"


def test_slug_uses_the_realpath(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    assert paths.workspace_slug(link) == paths.workspace_slug(real)
    assert paths.workspace_slug(link).endswith("-real")


def test_long_slugs_are_cut_and_hashed() -> None:
    long_path = "/" + "/".join(["segment" + str(i) for i in range(20)])
    real = os.path.realpath(long_path)
    full = real.replace("/", "-")
    assert len(full) > 128
    slug = paths.workspace_slug(long_path)
    digest = hashlib.sha256(real.encode()).hexdigest()[:16]
    assert slug == full[:111] + "-" + digest
    assert len(slug) == 128


def test_a_slug_of_exactly_128_is_kept() -> None:
    path = "/" + "x" * 127
    assert paths.workspace_slug(path) == "-" + "x" * 127


def test_workspace_precedence(tmp_path: Path) -> None:
    env = {"AMPLIFIER_AGENT_WORKSPACE": "from-env", "AMPLIFIER_AGENT_HTTP_WORKSPACE": "from-http"}
    assert paths.resolve_workspace("flag", env=env) == ("flag", "--workspace")
    assert paths.resolve_workspace(None, env=env) == ("from-env", "env:AMPLIFIER_AGENT_WORKSPACE")
    assert paths.resolve_workspace(None, env=env, http=True) == (
        "from-http",
        "env:AMPLIFIER_AGENT_HTTP_WORKSPACE",
    )
    assert paths.resolve_workspace("  ", env={}, cwd=tmp_path) == (
        paths.workspace_slug(tmp_path),
        "cwd",
    )


def test_blank_env_workspace_falls_back_to_cwd(tmp_path: Path) -> None:
    env = {"AMPLIFIER_AGENT_WORKSPACE": " "}
    assert paths.resolve_workspace(env=env, cwd=tmp_path)[1] == "cwd"


@pytest.mark.parametrize("value", ["a", "0-x", "ab-c9", "a" * 64])
def test_valid_explicit_workspaces(value: str) -> None:
    assert paths.validate_workspace(value) == value


@pytest.mark.parametrize("value", ["_reserved", "-x", "Upper", "a b", "a" * 65, "a/b", "a.b"])
def test_invalid_explicit_workspaces(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        paths.resolve_workspace(value, env={})
    assert caught.value.code == "argv_workspace_invalid"
