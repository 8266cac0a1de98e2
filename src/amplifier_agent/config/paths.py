"""The state root and every on-disk path derived from it (SPEC §2.1), private directory creation,
and workspace resolution with its slug rules (SPEC §2.2)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from amplifier_agent.core.errors import ConfigError
from amplifier_agent.core.fsio import ensure_private_dir as ensure_private_dir

_LOG = logging.getLogger(__name__)

HOME_ENV = "AMPLIFIER_AGENT_HOME"
WORKSPACE_ENV = "AMPLIFIER_AGENT_WORKSPACE"
HTTP_WORKSPACE_ENV = "AMPLIFIER_AGENT_HTTP_WORKSPACE"
DEFAULT_HOME_NAME = ".amplifier-agent"

WORKSPACE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_SLUG_MAX = 128
_SLUG_HEAD = 111
_SLUG_HASH_HEX = 16


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _present(value: str | None) -> str | None:
    """An env or flag value, or None when it is absent, empty or whitespace-only."""
    if value is None or not value.strip():
        return None
    return value


def _expand_user(value: str, env: Mapping[str, str]) -> str:
    # Expand `~` from the given environment so callers passing an explicit env stay pure.
    if value == "~" or value.startswith("~/"):
        user_home = _present(env.get("HOME")) or str(Path.home())
        return user_home + value[1:]
    return os.path.expanduser(value)


def resolve_home(env: Mapping[str, str] | None = None) -> tuple[Path, str]:
    """The state root and where it came from (`env:AMPLIFIER_AGENT_HOME` or `default`)."""
    environ = _env(env)
    raw = _present(environ.get(HOME_ENV))
    if raw is not None:
        return Path(os.path.abspath(_expand_user(raw, environ))), f"env:{HOME_ENV}"
    return Path(_expand_user(f"~/{DEFAULT_HOME_NAME}", environ)), "default"


def home(env: Mapping[str, str] | None = None) -> Path:
    """`$AMPLIFIER_AGENT_HOME` (`~` expanded; whitespace-only = unset), else `~/.amplifier-agent`.

    The one place the state root is computed; every other path derives from it (see `Layout`).
    """
    return resolve_home(env)[0]


@dataclass(frozen=True, slots=True)
class Layout:
    """Every path under one state root. Nothing here touches the disk."""

    root: Path

    @property
    def credentials(self) -> Path:
        return self.root / "credentials.json"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def serve_json(self) -> Path:
        return self.state_dir / "serve.json"

    @property
    def serve_lock(self) -> Path:
        return self.state_dir / "serve.lock"

    @property
    def serve_log(self) -> Path:
        return self.state_dir / "serve.log"

    @property
    def usage_ledger(self) -> Path:
        return self.state_dir / "usage.jsonl"

    @property
    def workspaces_dir(self) -> Path:
        return self.state_dir / "workspaces"

    @property
    def skills_dir(self) -> Path:
        return self.root / "skills"

    @property
    def models_cache_dir(self) -> Path:
        return self.root / "cache" / "models"

    def sessions_dir(self, workspace: str) -> Path:
        return self.workspaces_dir / workspace / "sessions"

    def models_cache(self, provider_id: str) -> Path:
        return self.models_cache_dir / f"{provider_id}.json"


def layout(env: Mapping[str, str] | None = None) -> Layout:
    """The layout under `home(env)`."""
    return Layout(home(env))


def workspace_slug(directory: str | os.PathLike[str]) -> str:
    """The derived workspace name of a directory: its realpath with separators turned into `-`."""
    real = os.path.realpath(directory)
    slug = real.replace("/", "-").replace("\\", "-").replace(":", "")
    if not slug.startswith("-"):
        slug = "-" + slug
    if len(slug) > _SLUG_MAX:
        digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()
        slug = f"{slug[:_SLUG_HEAD]}-{digest[:_SLUG_HASH_HEX]}"
    return slug


def validate_workspace(value: str) -> str:
    """An explicit workspace name, or `argv_workspace_invalid`."""
    if not WORKSPACE_RE.fullmatch(value):
        raise ConfigError(
            f"workspace {value!r} must match {WORKSPACE_RE.pattern}",
            code="argv_workspace_invalid",
        )
    return value


def resolve_workspace(
    explicit: str | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    http: bool = False,
) -> tuple[str, str]:
    """`--workspace` > env (HTTP face: `AMPLIFIER_AGENT_HTTP_WORKSPACE` first) > derived from cwd.

    Returns `(workspace, source)` with source `--workspace`, `env:<VAR>` or `cwd`.
    """
    environ = _env(env)
    value = _present(explicit)
    if value is not None:
        return validate_workspace(value), "--workspace"
    names = (HTTP_WORKSPACE_ENV, WORKSPACE_ENV) if http else (WORKSPACE_ENV,)
    for name in names:
        value = _present(environ.get(name))
        if value is not None:
            return validate_workspace(value), f"env:{name}"
    return workspace_slug(os.getcwd() if cwd is None else cwd), "cwd"
