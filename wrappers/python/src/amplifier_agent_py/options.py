"""Spawn options: validation that happens before any process starts, and the run argv."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from amplifier_agent_py.constants import PROTOCOL_VERSION_REQUIRED_BY_WRAPPER
from amplifier_agent_py.errors import AgentError

_SESSION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_APPROVAL_FLAGS = {"yes": "-y", "no": "-n", "prompt": None}


@dataclass(frozen=True)
class RunOptions:
    """Everything `run` needs besides the prompt, already validated."""

    session_id: str
    resume: bool
    cwd: str | None
    config_path: str | None
    display_mode: str | None
    workspace: str | None
    approval_flag: str | None
    allow_protocol_skew: bool


@dataclass(frozen=True)
class TurnSetup:
    """Everything fixed at spawn time that a turn needs, whichever the lifecycle."""

    binary: str
    env: Mapping[str, str]
    parent_env: Mapping[str, str]
    run: RunOptions
    mcp_document: str | None
    timeout_ms: int | None
    on_event: Callable[[dict[str, Any]], Any] | None


LIFECYCLES = ("one-shot", "persistent")


def check_lifecycle(lifecycle: object) -> str:
    if lifecycle not in LIFECYCLES:
        raise AgentError(
            "lifecycle_unsupported",
            "protocol",
            'the lifecycle must be "one-shot" or "persistent"',
        )
    return str(lifecycle)


def check_session_id(session_id: object) -> str:
    """Session ids become path components in the engine, so only the safe alphabet passes."""
    if (
        not isinstance(session_id, str)
        or _SESSION_ID.fullmatch(session_id) is None
        or set(session_id) == {"."}
    ):
        raise AgentError(
            "invalid_session",
            "protocol",
            "session id must match ^[A-Za-z0-9._:-]{1,128}$ and not be all dots",
        )
    return session_id


def approval_flag(approval: object) -> str | None:
    """Map the approval option to `-y`, `-n` or no flag; callbacks cannot cross the process."""
    if callable(approval) or (
        isinstance(approval, Mapping) and any(callable(v) for v in approval.values())
    ):
        raise AgentError(
            "approval_not_supported_in_v1",
            "protocol",
            "approval callbacks are not supported by wire protocol 0.3.0; "
            'use approval mode "yes", "no" or "prompt"',
        )
    mode = approval.get("mode") if isinstance(approval, Mapping) else approval
    if mode is None:
        return "-y"
    if isinstance(mode, str) and mode in _APPROVAL_FLAGS:
        return _APPROVAL_FLAGS[mode]
    raise AgentError(
        "invalid_approval_mode",
        "protocol",
        'approval mode must be "yes", "no" or "prompt"',
    )


def wants_notifications(options: RunOptions) -> bool:
    """Only `--display ndjson` makes the engine emit protocol notifications."""
    return (options.display_mode or "").lower() == "ndjson"


def build_run_argv(binary: str, options: RunOptions, prompt: str) -> list[str]:
    """The normative `run` argv; `--` always precedes the prompt so it is never an option."""
    argv = [binary, "run", "--session-id", options.session_id]
    argv.append("--resume" if options.resume else "--fresh")
    argv += _optional("--cwd", options.cwd) + _optional("--config", options.config_path)
    argv += ["--output", "json"]
    if not options.allow_protocol_skew:
        argv += ["--protocol-version", PROTOCOL_VERSION_REQUIRED_BY_WRAPPER]
    argv += _optional("--display", options.display_mode)
    argv += _optional("--workspace", options.workspace)
    if options.approval_flag is not None:
        argv.append(options.approval_flag)
    return [*argv, "--", prompt]


def build_stdio_argv(binary: str, options: RunOptions) -> list[str]:
    """`serve stdio` takes `run`'s process-level options with the same meaning."""
    argv = [binary, "serve", "stdio"]
    argv += _optional("--cwd", options.cwd) + _optional("--config", options.config_path)
    argv += _optional("--workspace", options.workspace)
    if options.approval_flag is not None:
        argv.append(options.approval_flag)
    return argv


def _optional(flag: str, value: Any) -> list[str]:
    return [] if value is None else [flag, str(value)]


def on_event_callback(display: Any) -> Callable[[dict[str, Any]], Any] | None:
    """`display.on_event` from a mapping or an object; anything but a callable is refused."""
    if display is None:
        return None
    if isinstance(display, Mapping):
        callback = display.get("on_event")
    else:
        callback = getattr(display, "on_event", None)
    if callback is not None and not callable(callback):
        raise TypeError("display.on_event must be callable")
    return callback
