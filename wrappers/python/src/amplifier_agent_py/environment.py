"""The child's environment (a fixed allowlist plus the caller's names) and the MCP spill file."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amplifier_agent_py.errors import AgentError, errno_name

BASE_NAMES = frozenset({"PATH", "HOME", "USER", "LANG", "TERM", "TMPDIR"})
PASSED_PREFIXES = ("AMPLIFIER_", "LC_")
CATALOG_NAMES = frozenset(
    {
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_VERSION",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "OLLAMA_HOST",
        "OLLAMA_BASE_URL",
        "CHAT_COMPLETIONS_BASE_URL",
        "CHAT_COMPLETIONS_API_KEY",
    }
)
#: Names that would let a caller change which code the engine's interpreter loads.
FORBIDDEN_NAMES = frozenset(
    {
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONNOUSERSITE",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "DYLD_INSERT_LIBRARIES",
        "DYLD_LIBRARY_PATH",
        "PATH",
    }
)
FORBIDDEN_PREFIXES = ("LD_", "DYLD_")
MCP_CONFIG_VAR = "AMPLIFIER_MCP_CONFIG"


@dataclass(frozen=True)
class EnvRequest:
    """The caller's `env` option: names copied from this process, then explicit values."""

    allowlist: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()


def _rejected(message: str) -> AgentError:
    return AgentError("env_injection_rejected", "protocol", message)


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name or "=" in name or "\0" in name:
        raise _rejected('environment variable names must be non-empty without "=" or NUL')
    if name in FORBIDDEN_NAMES or name.startswith(FORBIDDEN_PREFIXES):
        raise _rejected(f"environment variable {name} may not be passed to the engine")


def check_env_request(env: Mapping[str, Any] | None) -> EnvRequest:
    """Validate `{"allowlist": [...], "extra": {...}}`; runs before any process starts."""
    if env is None:
        return EnvRequest()
    allowlist = tuple(env.get("allowlist") or ())
    extra_map: Mapping[str, Any] = env.get("extra") or {}
    for name in (*allowlist, *extra_map):
        _check_name(name)
    for name, value in extra_map.items():
        if not isinstance(value, str):
            raise TypeError(f"env extra value for {name} must be a string")
        if "\0" in value:
            raise _rejected(f"the value of {name} contains NUL")
    return EnvRequest(allowlist, tuple(extra_map.items()))


def child_env(request: EnvRequest, parent: Mapping[str, str]) -> dict[str, str]:
    """The engine sees only the allowlisted part of `parent`, then `extra`, which wins."""
    wanted = set(request.allowlist)
    env = {
        name: value
        for name, value in parent.items()
        if name in BASE_NAMES
        or name in CATALOG_NAMES
        or name in wanted
        or name.startswith(PASSED_PREFIXES)
    }
    env.update(request.extra)
    return env


def encode_mcp_servers(servers: Any) -> str | None:
    """Serialise eagerly so an unencodable value fails at spawn, not mid-turn."""
    if servers is None:
        return None
    return json.dumps({"mcpServers": servers}, separators=(",", ":"), ensure_ascii=False)


def spill_root(parent: Mapping[str, str]) -> Path:
    runtime = parent.get("XDG_RUNTIME_DIR", "")
    base = runtime if os.path.isabs(runtime) else tempfile.gettempdir()
    return Path(base) / "amplifier-agent"


def write_mcp_spill(document: str, session_id: str, parent: Mapping[str, str]) -> Path:
    """Write `mcp.json` (0600) in a 0700 directory only this user owns."""
    directory = spill_root(parent)
    _private_dir(directory)
    directory = directory / session_id
    _private_dir(directory)
    path = directory / "mcp.json"
    path.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(document)
    return path


def write_spill(document: str, session_id: str, parent: Mapping[str, str]) -> Path:
    """`write_mcp_spill`, with a failure reported as the turn's `spawn_failed`."""
    try:
        return write_mcp_spill(document, session_id, parent)
    except OSError as exc:
        message = f"could not write the MCP config: {errno_name(exc)}"
        raise AgentError("spawn_failed", "transport", message) from exc


def remove_mcp_spill(path: Path) -> None:
    """Unlink the spill file and its now-empty session directory; absent files are fine."""
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()


def _private_dir(path: Path) -> None:
    # A shared temp dir may hold a directory someone else planted under our name: refuse it.
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a directory owned by this user")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
