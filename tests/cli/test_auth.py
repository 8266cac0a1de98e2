"""`auth set|list|remove|status|clear`: outputs, masking, modes and exit codes (SPEC §4.3)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from amplifier_agent.cli.app import cli

LONG_KEY = "sk-ant-api03-abcdefghijklmnop-x9Qa"
OTHER_KEY = "sk-proj-0123456789abcdef-b7Zk"
KNOWN = "anthropic, azure-openai, chat-completions, ollama, openai"


def auth(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["auth", *args], input=stdin, env=env)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def creds(isolated_home: Path) -> Path:
    return isolated_home / "credentials.json"


def write_raw(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.chmod(path, 0o600)


# --- set --------------------------------------------------------------------------------------


def test_set_from_stdin_writes_a_private_file(isolated_home: Path, creds: Path) -> None:
    result = auth("set", "anthropic", "--stdin", stdin=f"  {LONG_KEY}  \nsecond line\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Stored credentials for 'anthropic' at {creds} (mode 600).\n"
    assert mode_of(creds) == 0o600
    assert mode_of(isolated_home) == 0o700
    assert json.loads(creds.read_text()) == {
        "version": 1,
        "providers": {"anthropic": {"api_key": LONG_KEY}},
    }
    assert LONG_KEY not in result.output


def test_set_from_argument_and_endpoint(creds: Path) -> None:
    result = auth("set", "azure-openai", "az-key", "--endpoint", "https://x.openai.azure.com")
    assert result.exit_code == 0, result.output
    assert json.loads(creds.read_text())["providers"]["azure-openai"] == {
        "api_key": "az-key",
        "endpoint": "https://x.openai.azure.com",
    }


def test_set_ollama_stores_a_host(creds: Path) -> None:
    assert auth("set", "ollama", "http://gpu:11434").exit_code == 0
    assert json.loads(creds.read_text())["providers"]["ollama"] == {"host": "http://gpu:11434"}


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (("set", "openai"), None),
        (("set", "openai", "key", "--stdin"), "key\n"),
        (("set", "openai", "--stdin"), "   \n"),
        (("set", "openai", ""), None),
    ],
)
def test_set_needs_exactly_one_value(creds: Path, args: tuple[str, ...], stdin: str | None) -> None:
    result = auth(*args, stdin=stdin)
    assert result.exit_code == 2
    assert not creds.exists()


def test_set_unknown_provider(creds: Path) -> None:
    result = auth("set", "mistral", "key")
    assert result.exit_code == 2
    assert result.stderr == f"Unknown provider 'mistral'. Known: {KNOWN}\n"
    assert not creds.exists()


def test_set_local_needs_nothing(creds: Path) -> None:
    result = auth("set", "local", "key")
    assert result.exit_code == 2
    assert result.stderr == "Provider 'local' needs no credentials.\n"
    assert not creds.exists()


def test_set_upgrades_a_legacy_file_and_keeps_unknown_entries(creds: Path) -> None:
    write_raw(creds, b'{"openai": "sk-o", "mystery": "m"}')
    assert auth("set", "anthropic", "sk-a").exit_code == 0
    assert json.loads(creds.read_text()) == {
        "version": 1,
        "providers": {
            "anthropic": {"api_key": "sk-a"},
            "mystery": {"api_key": "m"},
            "openai": {"api_key": "sk-o"},
        },
    }


# --- corrupt files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("set", "openai", "new-key"), ("list",), ("status",), ("remove", "openai")],
)
def test_a_corrupt_file_is_named_and_left_alone(creds: Path, args: tuple[str, ...]) -> None:
    write_raw(creds, b'{"version": 1, "providers": {"openai": {"api_key": "sk-')
    before = creds.read_bytes()
    mtime = os.stat(creds).st_mtime_ns
    result = auth(*args)
    assert result.exit_code == 1
    assert str(creds) in result.stderr
    assert result.stderr.startswith("[error] credentials_corrupt: ")
    assert creds.read_bytes() == before
    assert os.stat(creds).st_mtime_ns == mtime
    # No temporary file is left behind; the lock file of a writing command stays (it is reused).
    assert {p.name for p in creds.parent.iterdir()} - {"credentials.lock"} == {"credentials.json"}
    if args[0] == "set":
        assert "auth clear --force" in result.stderr


def test_a_symlinked_file_is_refused(creds: Path, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere.json"
    real.write_text('{"openai": "sk-o"}')
    creds.parent.mkdir(parents=True, exist_ok=True)
    creds.symlink_to(real)
    result = auth("list")
    assert result.exit_code == 1
    assert "symbolic link" in result.stderr


# --- list -------------------------------------------------------------------------------------


def test_list_masks_and_names_sources(creds: Path) -> None:
    auth("set", "anthropic", "file-anthropic-key")
    auth("set", "openai", OTHER_KEY)
    auth("set", "chat-completions", "short")
    result = auth("list", env={"ANTHROPIC_API_KEY": LONG_KEY})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"Credentials file: {creds} (mode 600)",
        "PROVIDER          VALUE                    SOURCE",
        "anthropic         ...x9Qa                  env=ANTHROPIC_API_KEY",
        "azure-openai      <not set>                —",
        "chat-completions  ***                      file",
        "ollama            http://localhost:11434   default",
        "openai            ...b7Zk                  file",
    ]
    for secret in (LONG_KEY, OTHER_KEY, "file-anthropic-key", "short"):
        assert secret not in result.output


def test_list_without_a_file(creds: Path) -> None:
    result = auth("list")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"Credentials file: {creds} (not present)"
    assert not creds.exists()


def test_list_warns_about_the_alias_once(creds: Path) -> None:
    result = auth("list", env={"AZURE_OPENAI_KEY": "azure-old-name-key"})
    assert result.exit_code == 0
    assert "azure-openai      ...-key                  env=AZURE_OPENAI_KEY" in result.stdout
    warning = "[WARN] AZURE_OPENAI_KEY is deprecated; use AZURE_OPENAI_API_KEY"
    assert result.stderr.count(warning) == 1
    assert warning not in result.stdout


# --- status -----------------------------------------------------------------------------------


def test_status_shows_env_winning(creds: Path) -> None:
    auth("set", "anthropic", "file-anthropic-key")
    auth("set", "openai", OTHER_KEY)
    result = auth("status", env={"ANTHROPIC_API_KEY": LONG_KEY})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "exists: yes",
        "mode: 600",
        "Per-provider resolution (env wins if both are set):",
        "  anthropic: USING env=ANTHROPIC_API_KEY (file entry present, overridden)",
        "  openai: USING file entry",
        "  azure-openai: NOT SET (export AZURE_OPENAI_API_KEY or run "
        "`amplifier-agent auth set azure-openai ...`)",
        "  ollama: USING default http://localhost:11434",
        "  chat-completions: NOT SET (export CHAT_COMPLETIONS_API_KEY or run "
        "`amplifier-agent auth set chat-completions ...`)",
    ]
    assert LONG_KEY not in result.output


def test_status_env_without_a_file_entry(creds: Path) -> None:
    result = auth("status", env={"OPENAI_API_KEY": OTHER_KEY, "OLLAMA_HOST": "gpu:11434"})
    lines = result.stdout.splitlines()
    assert lines[:2] == ["exists: no", "Per-provider resolution (env wins if both are set):"]
    assert "  openai: USING env=OPENAI_API_KEY" in lines
    assert "  ollama: USING env=OLLAMA_HOST http://gpu:11434" in lines


# --- remove and clear -------------------------------------------------------------------------


def test_remove_touches_only_the_file(creds: Path) -> None:
    auth("set", "openai", OTHER_KEY)
    auth("set", "anthropic", LONG_KEY)
    result = auth("remove", "openai")
    assert (result.exit_code, result.stdout) == (0, "Removed stored credential for 'openai'.\n")
    assert json.loads(creds.read_text())["providers"] == {"anthropic": {"api_key": LONG_KEY}}
    again = auth("remove", "openai")
    assert (again.exit_code, again.stdout) == (
        0,
        "No stored credential for 'openai' (no change).\n",
    )


def test_remove_without_a_file_creates_nothing(creds: Path) -> None:
    result = auth("remove", "openai")
    assert result.stdout == "No stored credential for 'openai' (no change).\n"
    assert not creds.exists()


def test_clear_needs_force(creds: Path) -> None:
    auth("set", "openai", OTHER_KEY)
    refused = auth("clear")
    assert refused.exit_code == 2
    assert refused.stderr == f"Refusing to delete {creds} without --force.\n"
    assert creds.exists()
    cleared = auth("clear", "--force")
    assert (cleared.exit_code, cleared.stdout) == (0, f"Removed {creds}.\n")
    assert not creds.exists()
    nothing = auth("clear", "--force")
    assert (nothing.exit_code, nothing.stdout) == (0, "No credentials file to clear.\n")


def test_clear_removes_a_corrupt_file(creds: Path) -> None:
    write_raw(creds, b"{broken")
    assert auth("clear", "--force").exit_code == 0
    assert not creds.exists()


def test_bare_auth_prints_help() -> None:
    result = auth()
    assert result.exit_code == 0
    for command in ("set", "list", "remove", "status", "clear"):
        assert command in result.stdout


# --- as a real process ------------------------------------------------------------------------


def run_module(
    args: list[str], env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "amplifier_agent", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_auth_as_a_subprocess(tmp_path: Path) -> None:
    home = tmp_path / "proc-home"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(AMPLIFIER_AGENT_HOME=str(home), HOME=str(tmp_path / "user-home"))
    stored = run_module(["auth", "set", "anthropic", "--stdin"], env, stdin=LONG_KEY + "\n")
    assert stored.returncode == 0, stored.stderr
    assert mode_of(home / "credentials.json") == 0o600
    assert mode_of(home) == 0o700
    listed = run_module(["auth", "list"], {**env, "ANTHROPIC_API_KEY": OTHER_KEY})
    assert listed.returncode == 0, listed.stderr
    assert "anthropic         ...b7Zk                  env=ANTHROPIC_API_KEY" in listed.stdout
    status = run_module(["auth", "status"], {**env, "ANTHROPIC_API_KEY": OTHER_KEY})
    assert (
        "anthropic: USING env=ANTHROPIC_API_KEY (file entry present, overridden)" in status.stdout
    )
    assert LONG_KEY not in listed.stdout + listed.stderr + status.stdout + status.stderr


def test_set_chat_completions_endpoint_without_a_key(creds: Path) -> None:
    result = auth("set", "chat-completions", "--endpoint", "http://127.0.0.1:8080/v1")
    assert result.exit_code == 0, result.output
    assert json.loads(creds.read_text())["providers"]["chat-completions"] == {
        "endpoint": "http://127.0.0.1:8080/v1"
    }
    keyed = auth("set", "chat-completions", "ck-1")
    assert keyed.exit_code == 0, keyed.output
    again = auth("set", "chat-completions", "--endpoint", "http://10.0.0.2:8080/v1")
    assert again.exit_code == 0, again.output
    assert json.loads(creds.read_text())["providers"]["chat-completions"] == {
        "api_key": "ck-1",
        "endpoint": "http://10.0.0.2:8080/v1",
    }


def test_an_endpoint_does_not_replace_a_required_key(creds: Path) -> None:
    result = auth("set", "azure-openai", "--endpoint", "https://x.openai.azure.com")
    assert result.exit_code == 2
    assert not creds.exists()


def test_an_open_state_root_is_tightened_with_its_credentials(isolated_home: Path) -> None:
    isolated_home.mkdir(mode=0o755)
    os.chmod(isolated_home, 0o755)
    creds = isolated_home / "credentials.json"
    creds.write_text(json.dumps({"version": 1, "providers": {"openai": {"api_key": OTHER_KEY}}}))
    os.chmod(creds, 0o644)
    env = {**os.environ, "AMPLIFIER_AGENT_HOME": str(isolated_home)}

    listed = subprocess.run(
        [sys.executable, "-m", "amplifier_agent", "auth", "list"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )

    assert listed.returncode == 0, listed.stderr
    assert mode_of(creds) == 0o600
    assert mode_of(isolated_home) == 0o700
    about_the_dir = [line for line in listed.stderr.splitlines() if f"{isolated_home} was" in line]
    assert about_the_dir == [
        f"{isolated_home} was accessible by group or others (mode 755); tightened to 700"
    ]
    again = subprocess.run(
        [sys.executable, "-m", "amplifier_agent", "auth", "list"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert again.stderr == ""
