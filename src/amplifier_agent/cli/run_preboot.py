"""`run`'s checks before the engine boots (SPEC §7.2): argv conflicts, config, approval ladder,
protocol version, workspace, cwd and session id. Each failure is a `PrebootFailure`."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from amplifier_agent import PROTOCOL_VERSION
from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.config.paths import resolve_workspace
from amplifier_agent.core.errors import AmplifierError, ConfigError


class PrebootFailure(Exception):
    """A failure before the engine boots; `stderr_line` replaces the generic `[error]` line."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        stderr_line: str | None = None,
        remediation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.stderr_line = stderr_line or f"[error] {code}: {message}"
        self.remediation = remediation

    @classmethod
    def from_error(cls, error: AmplifierError) -> PrebootFailure:
        return cls(error.code, error.message, remediation=error.remediation)


@dataclass(frozen=True, slots=True)
class Flags:
    yes: bool
    no: bool
    quiet: bool
    verbose: bool
    debug: bool
    resume: bool
    fresh: bool


def check_argv(flags: Flags, prompt: str | None) -> str:
    """The conflicts of §7.2, in table order; returns the stripped-checked prompt."""
    check_approval_flags(flags.yes, flags.no)
    if flags.quiet and (flags.verbose or flags.debug):
        _conflict("--quiet conflicts with -v/--verbose and --debug; choose one verbosity tier")
    if flags.resume and flags.fresh:
        _conflict("--resume and --fresh are mutually exclusive")
    if prompt is None or not prompt.strip():
        raise PrebootFailure(
            "prompt_required",
            'pass prompt as argument: `amplifier-agent run "..."`.',
        )
    return prompt


def check_approval_flags(yes: bool, no: bool) -> None:
    if yes and no:
        _conflict("-y and -n are mutually exclusive")


def check_session_flags(flags: Flags, session_id: str | None) -> None:
    """`--resume` and `--fresh` act on a session, so they need `--session-id` (a run without one
    would otherwise silently keep nothing)."""
    if (flags.resume or flags.fresh) and session_id is None:
        flag = "--resume" if flags.resume else "--fresh"
        _conflict(f"{flag} needs --session-id")


def _conflict(message: str) -> None:
    raise PrebootFailure("argv_conflict", message, stderr_line=message)


def approval_mode(flags: Flags, config: HostConfig, stdin_is_tty: bool) -> str:
    """The ladder: -y, -n, approval.mode, a TTY prompts; else `approval_unconfigured`."""
    if flags.yes:
        return "yes"
    if flags.no:
        return "no"
    mode = config.approval.mode
    if mode in ("yes", "no"):
        return mode
    if stdin_is_tty:
        return "prompt"
    raise PrebootFailure(
        "approval_unconfigured",
        "no approval policy for a headless run: pass -y/--yes or -n/--no, or set approval.mode "
        "in host_config via --config / $AMPLIFIER_AGENT_CONFIG",
    )


def check_protocol(requested: str | None, config: HostConfig) -> None:
    if requested is None or requested == PROTOCOL_VERSION or config.allow_protocol_skew:
        return
    raise PrebootFailure(
        "protocol_version_mismatch",
        f"this engine speaks protocol {PROTOCOL_VERSION}, the caller asked for {requested}",
        remediation="upgrade the engine or the host SDK so both speak the same protocol, or set "
        "host_config allowProtocolSkew: true",
    )


def resolve_cwd(value: str | None) -> Path:
    path = Path(value).expanduser() if value is not None else Path.cwd()
    try:
        resolved = path.resolve(strict=True)
    except OSError as exc:
        raise PrebootFailure("argv_path_unreadable", f"--cwd {value}: {exc.strerror}") from exc
    if not resolved.is_dir() or not os.access(resolved, os.R_OK | os.X_OK):
        raise PrebootFailure("argv_path_unreadable", f"--cwd {value} is not a readable directory")
    return resolved


def workspace_for(explicit: str | None, cwd: Path, env: Mapping[str, str]) -> str:
    try:
        return resolve_workspace(explicit, cwd=cwd, env=env)[0]
    except ConfigError as error:
        raise PrebootFailure.from_error(error) from error


def stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False
