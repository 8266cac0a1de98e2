"""`serve chat-completions` settings: flags, their env vars (flag > env > default) and the flag
problems of SPEC §8.2."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from amplifier_agent.config.paths import resolve_workspace
from amplifier_agent.core.errors import ConfigError
from amplifier_agent.engine import Problem
from amplifier_agent.server.connection import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_HEADER_TIMEOUT_S,
    ReadTimeouts,
)

DEFAULT_PORT = 9099
LOOPBACK_NAMES = ("localhost",)
HEADER_TIMEOUT_ENV = "AMPLIFIER_AGENT_HTTP_HEADER_TIMEOUT_S"
BODY_TIMEOUT_ENV = "AMPLIFIER_AGENT_HTTP_BODY_TIMEOUT_S"


@dataclass(frozen=True, slots=True)
class ServeOptions:
    bind: str
    port: int
    api_key: str
    api_key_generated: bool
    workspace: str
    config_path: str | None
    model_id: str | None
    log_level: str
    allow_hosts: tuple[str, ...]
    allow_origins: tuple[str, ...]
    read_timeouts: ReadTimeouts = field(default_factory=ReadTimeouts)
    #: `--store` (a database URL); None defers to the environment and host_config.
    store: str | None = None

    @property
    def bind_is_loopback(self) -> bool:
        return is_loopback(self.bind)

    def url(self, port: int) -> str:
        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        return f"http://{host}:{port}"


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _env(name: str, env: Mapping[str, str]) -> str | None:
    value = env.get(name)
    return value if value is not None and value.strip() else None


def _comma_list(
    flag_values: tuple[str, ...], env_name: str, env: Mapping[str, str]
) -> tuple[str, ...]:
    if flag_values:
        return flag_values
    raw = _env(env_name, env) or ""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def resolve_options(
    flags: Mapping[str, object], env: Mapping[str, str] | None = None
) -> tuple[ServeOptions, list[Problem]]:
    """Every flag with its env fallback, plus the flag problems (`invalid_port`,
    `argv_workspace_invalid`, `remote_bind_requires_api_key`, `invalid_timeout`); the options
    are only usable when there are no problems."""
    environ = os.environ if env is None else env
    problems: list[Problem] = []

    def pick(flag: str, env_name: str) -> str | None:
        value = flags.get(flag)
        return str(value) if value is not None else _env(env_name, environ)

    bind = pick("bind", "AMPLIFIER_AGENT_HTTP_BIND") or "127.0.0.1"
    port = _port(pick("port", "AMPLIFIER_AGENT_HTTP_PORT"), problems)
    supplied_key = pick("api_key", "AMPLIFIER_AGENT_HTTP_API_KEY")
    if supplied_key is None and not is_loopback(bind):
        problems.append(
            Problem(
                "remote_bind_requires_api_key",
                f"binding {bind} (not loopback) needs an explicit key: pass --api-key or set "
                "AMPLIFIER_AGENT_HTTP_API_KEY",
            )
        )
    workspace = _workspace(flags.get("workspace"), environ, problems)
    config_path = pick("config", "AMPLIFIER_AGENT_HTTP_CONFIG_PATH") or _env(
        "AMPLIFIER_AGENT_CONFIG", environ
    )
    allow_hosts = _strings(flags.get("allow_host"))
    allow_origins = _strings(flags.get("allow_origin"))
    return (
        ServeOptions(
            bind=bind,
            port=port,
            api_key=supplied_key or "aak_" + secrets.token_urlsafe(32),
            api_key_generated=supplied_key is None,
            workspace=workspace,
            config_path=config_path,
            model_id=pick("model_id", "AMPLIFIER_AGENT_HTTP_MODEL_ID"),
            log_level=(pick("log_level", "AMPLIFIER_AGENT_HTTP_LOG_LEVEL") or "info").lower(),
            allow_hosts=_comma_list(allow_hosts, "AMPLIFIER_AGENT_HTTP_ALLOWED_HOSTS", environ),
            allow_origins=_comma_list(
                allow_origins, "AMPLIFIER_AGENT_HTTP_ALLOWED_ORIGINS", environ
            ),
            read_timeouts=ReadTimeouts(
                header_s=_timeout(HEADER_TIMEOUT_ENV, DEFAULT_HEADER_TIMEOUT_S, environ, problems),
                body_s=_timeout(BODY_TIMEOUT_ENV, DEFAULT_BODY_TIMEOUT_S, environ, problems),
            ),
            store=_flag_text(flags.get("store")),
        ),
        problems,
    )


def _flag_text(value: object) -> str | None:
    return str(value) if value else None


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, (list, tuple)) else ()


def _port(raw: str | None, problems: list[Problem]) -> int:
    if raw is None:
        return DEFAULT_PORT
    try:
        port = int(raw.strip())
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        problems.append(Problem("invalid_port", f"port {raw!r} must be an integer from 0 to 65535"))
    return port


def _timeout(
    env_name: str, default: float, env: Mapping[str, str], problems: list[Problem]
) -> float:
    raw = _env(env_name, env)
    if raw is None:
        return default
    try:
        seconds = float(raw.strip())
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        problems.append(
            Problem("invalid_timeout", f"{env_name}={raw!r} must be a positive number of seconds")
        )
        return default
    return seconds


def _workspace(explicit: object, env: Mapping[str, str], problems: list[Problem]) -> str:
    try:
        return resolve_workspace(
            str(explicit) if explicit is not None else None, env=env, http=True
        )[0]
    except ConfigError as error:
        problems.append(Problem(error.code, error.message))
        return ""
