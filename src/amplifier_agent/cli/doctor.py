"""`doctor [--strict] [--quick] [--config PATH]` (SPEC §7.5): one `[ OK ]`/`[WARN]`/`[FAIL]`/
`[INFO]` line per self-check of the installation, the state root, the configuration and the
active provider.

The checks themselves only report and repair nothing. The one side effect is the ordinary
credential lookup's (SPEC §2.1): a loose credentials.json it has to read gets tightened.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

import click

from amplifier_agent.cli.serve_state import StateFileError, liveness, read_state
from amplifier_agent.config.credentials import CredentialResolver, Resolved
from amplifier_agent.config.credentials_file import normalise_credentials
from amplifier_agent.config.host_config import HostConfig, locate_host_config, read_host_config
from amplifier_agent.config.masking import mask_secret
from amplifier_agent.config.paths import layout, resolve_home
from amplifier_agent.config.provider_select import (
    LOCAL_MODULE,
    local_installed,
    select_matrix,
    select_run_provider,
)
from amplifier_agent.config.secret_files import parse_secret_json
from amplifier_agent.core.catalog import KNOWN_PROVIDERS
from amplifier_agent.core.errors import AmplifierError, ConfigError, ProviderNotConfigured

Status = Literal["ok", "warn", "fail", "info"]
LABELS: Mapping[Status, str] = MappingProxyType(
    {"ok": "[ OK ]", "warn": "[WARN]", "fail": "[FAIL]", "info": "[INFO]"}
)

MIN_PYTHON = (3, 11)
LISTING_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Check:
    status: Status
    text: str

    def render(self) -> str:
        return f"{LABELS[self.status]} {self.text}"

    def masked(self, secret: str | None) -> Check:
        """This check with every occurrence of `secret` masked."""
        if not secret:
            return self
        return Check(self.status, self.text.replace(secret, mask_secret(secret)))


@dataclass(frozen=True, slots=True)
class Active:
    """The provider `run` would use; `ready` is False when it lacks a credential or runtime."""

    module: str
    config: Mapping[str, Any] = field(default_factory=dict)
    ready: bool = False
    secret: str | None = None


def _shown_source(resolved: Resolved) -> str:
    if resolved.source.startswith("env:"):
        return "env=" + resolved.source.removeprefix("env:")
    return "no key" if resolved.source == "none" else resolved.source


def python_check() -> Check:
    version = ".".join(str(part) for part in sys.version_info[:3])
    if sys.version_info[:2] >= MIN_PYTHON:
        return Check("ok", f"python: {version}")
    return Check("fail", f"python: {version} (amplifier-agent needs >= 3.11)")


def home_check(env: Mapping[str, str]) -> Check:
    home, source = resolve_home(env)
    where = f"home: {home} ({source})"
    try:
        info = os.stat(home)
    except FileNotFoundError:
        return _absent_home(home, where)
    except OSError as exc:
        return Check("fail", f"{where}: cannot stat ({exc.strerror or exc})")
    if not stat.S_ISDIR(info.st_mode):
        return Check("fail", f"{where}: not a directory")
    # access(2) also reports a read-only filesystem, so no probe file needs to be written.
    if not os.access(home, os.W_OK | os.X_OK):
        return Check("fail", f"{where}: not writable by uid {os.getuid()}")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return Check("warn", f"{where}: mode {mode:o}, expected 700 (run `chmod 700 {home}`)")
    return Check("ok", f"{where}: writable, mode {mode:o}")


def _absent_home(home: Path, where: str) -> Check:
    parent = home.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if os.access(parent, os.W_OK | os.X_OK):
        return Check("info", f"{where}: not created yet (made with mode 700 on first use)")
    return Check("fail", f"{where}: does not exist and {parent} is not writable")


def credentials_check(env: Mapping[str, str]) -> Check:
    path = layout(env).credentials
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return Check("info", f"credentials.json: not present ({path})")
    except OSError as exc:
        return Check("fail", f"credentials.json: credentials_corrupt: cannot read {path}: {exc}")
    try:
        _validate_credentials(path, info)
    except ConfigError as exc:
        return Check("fail", f"credentials.json: {exc.code}: {exc.message}")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        hint = f"expected 600 (run `chmod 600 {path}`)"
        return Check("warn", f"credentials.json: {path} is mode {mode:o}, {hint}")
    return Check("ok", f"credentials.json: {path} (mode {mode:o})")


def _validate_credentials(path: Path, info: os.stat_result) -> None:
    """The checks every reader applies, without the reader's tightening of a loose mode."""
    code = "credentials_corrupt"
    if stat.S_ISLNK(info.st_mode):
        raise ConfigError(f"refusing to read {path}: it is a symbolic link", code=code)
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"refusing to read {path}: not a regular file", code=code)
    if info.st_uid != os.getuid():
        raise ConfigError(f"refusing to read {path}: owned by uid {info.st_uid}", code=code)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", code=code) from exc
    normalise_credentials(parse_secret_json(data, path), path)


def host_config_check(
    env: Mapping[str, str], config_path: str | None = None
) -> tuple[Check, HostConfig]:
    location = locate_host_config(config_path, env)
    if location.path is None:
        none = Check("info", "host_config: none (set AMPLIFIER_AGENT_CONFIG to use one)")
        return none, HostConfig()
    try:
        loaded = read_host_config(location.path)
    except ConfigError as exc:
        return Check("fail", f"host_config: {exc.code}: {exc.message}"), HostConfig()
    return Check("ok", f"host_config: {location.path} ({location.source})"), loaded


def provider_check(loaded: HostConfig, env: Mapping[str, str]) -> tuple[Check, Active]:
    config = loaded.provider.config
    try:
        chosen = select_run_provider(loaded.provider, CredentialResolver(env=env))
    except ConfigError as exc:
        module = loaded.provider.module or "auto"
        return Check("fail", f"provider {module}: {exc.code}: {exc.message}"), Active(module)
    module = chosen.module
    if module == LOCAL_MODULE:
        if local_installed():
            return Check("ok", "provider local: llama_cpp importable"), Active(module, config, True)
        hint = "module_not_installed (install amplifier-agent[local])"
        return Check("fail", f"provider local: {hint}"), Active(module, config)
    return _credential_check(module, config, chosen.credential, env)


def _credential_check(
    module: str, config: Mapping[str, Any], credential: Resolved, env: Mapping[str, str]
) -> tuple[Check, Active]:
    from amplifier_agent.engine import resolve_provider_settings  # deferred: engine imports

    unready = Active(module, config)
    try:
        resolve_provider_settings(module, module, config, env=env)
    except ProviderNotConfigured as exc:
        hint = f"export {exc.env_var} or run `amplifier-agent auth set {module} ...`"
        return Check("fail", f"provider {module}: NOT SET ({hint})"), unready
    except ConfigError as exc:
        return Check("fail", f"provider {module}: {exc.code}: {exc.message}"), unready
    is_host = KNOWN_PROVIDERS[module].credential_field == "host"
    shown = _shown_source(credential)
    if is_host and credential.value:
        shown += f" {credential.value}"
    secret = None if is_host else credential.value
    return Check("ok", f"provider {module}: {shown}"), Active(module, config, True, secret)


def routing_check(loaded: HostConfig, active: Active) -> Check:
    from amplifier_agent.engine import routing_matrix_probe

    name, source = select_matrix(loaded.routing, active.module)
    probe = routing_matrix_probe(name, loaded.routing.roles)
    if not probe.ok:
        return Check("fail", f"routing: matrix={name} ({source}): {probe.detail}")
    return Check("ok", f"routing: matrix={name} ({source})")


def mcp_check() -> Check:
    from amplifier_agent.engine import mcp_sdk_probe

    probe = mcp_sdk_probe()
    if probe.ok:
        return Check("ok", f"mcp: SDK importable ({probe.detail})")
    return Check("warn", f"mcp: SDK not importable, MCP servers are unavailable ({probe.detail})")


def session_store_check() -> Check:
    from amplifier_agent.engine import session_store_round_trip

    probe = session_store_round_trip()
    return Check("ok" if probe.ok else "fail", f"session store: {probe.detail}")


def shared_store_check(loaded: HostConfig, env: Mapping[str, str]) -> Check | None:
    """A configured database store; None (no line) for the files, which the session-store
    round trip already covers."""
    from amplifier_agent.engine import choose_store, shared_store_probe

    choice = choose_store(None, loaded, env)
    if choice.url is None:
        return None
    shown = f"store: {choice.to_json()['url']} ({choice.source})"
    status, probe = shared_store_probe(choice.url)
    return Check(cast(Status, status), f"{shown}: {probe.detail}")


def serve_check() -> Check:
    try:
        state = read_state()
    except StateFileError as exc:
        return Check("warn", f"serve: {exc}")
    if state is None:
        return Check("info", "serve: not running")
    alive = liveness(state)
    if alive == "verified":
        return Check("info", f"serve: running at {state.url} (PID {state.pid})")
    why = "no longer exists" if alive == "dead" else "now belongs to another process"
    cleanup = "`amplifier-agent serve status` cleans it"
    return Check("info", f"serve: stale state file (PID {state.pid} {why}; {cleanup})")


def models_check(active: Active, quick: bool) -> Check:
    if quick:
        return Check("info", "models: live listing skipped (--quick)")
    if not active.ready:
        return Check("info", f"models: live listing skipped (provider {active.module} not ready)")
    from amplifier_agent.engine import list_provider_models

    module = active.module
    try:
        listing = list_provider_models(module, module, LISTING_TIMEOUT_S, active.config)
        models = asyncio.run(listing)
    except AmplifierError as exc:
        detail = exc.message if exc.code == "runtime" else f"{exc.code}: {exc.message}"
        return Check("fail", f"models: {module}: {detail}")
    except Exception as exc:  # a listing failure of any kind is a finding, not a crash
        return Check("fail", f"models: {module}: {type(exc).__name__}: {exc}")
    if not models:
        return Check("warn", f"models: {module}: no live model list available")
    noun = "model" if len(models) == 1 else "models"
    return Check("ok", f"models: {module} listed {len(models)} {noun}")


def run_checks(
    env: Mapping[str, str], *, quick: bool, config_path: str | None = None
) -> Iterator[Check]:
    """Every check in order, each run only when the previous line has been reported."""
    yield python_check()
    yield home_check(env)
    yield credentials_check(env)
    host_check, loaded = host_config_check(env, config_path)
    yield host_check
    chosen, active = provider_check(loaded, env)
    later: tuple[Callable[[], Check | None], ...] = (
        lambda: chosen,
        partial(routing_check, loaded, active),
        mcp_check,
        session_store_check,
        partial(shared_store_check, loaded, env),
        serve_check,
        partial(models_check, active, quick),
    )
    for check in later:
        found = check()
        if found is not None:
            # Should any message ever echo the active credential, it is masked here.
            yield found.masked(active.secret)


def exit_code(statuses: set[Status], *, strict: bool) -> int:
    failing: set[Status] = {"fail", "warn"} if strict else {"fail"}
    return 1 if statuses & failing else 0


@click.command(name="doctor")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--quick", is_flag=True, help="Skip the live model listing.")
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="host_config file (else $AMPLIFIER_AGENT_CONFIG).",
)
def doctor(strict: bool, quick: bool, config_path: str | None) -> None:
    """Check the installation, state root, configuration and active provider."""
    statuses: set[Status] = set()
    for check in run_checks(os.environ, quick=quick, config_path=config_path):
        statuses.add(check.status)
        click.echo(check.render())
    raise click.exceptions.Exit(exit_code(statuses, strict=strict))
