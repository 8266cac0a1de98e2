"""`auth set|list|remove|status|clear` (SPEC §4.3): manage credentials.json; secrets are masked."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from amplifier_agent.cli.common import HelpOnEmptyGroup, error_line
from amplifier_agent.config.credentials import CredentialResolver, Resolved
from amplifier_agent.config.credentials_file import (
    credentials_locked,
    delete_credentials,
    load_credentials,
    save_credentials,
    with_credential,
    without_credential,
)
from amplifier_agent.config.masking import mask_secret
from amplifier_agent.config.paths import layout
from amplifier_agent.core.catalog import AUTH_PROVIDERS, KNOWN_PROVIDERS
from amplifier_agent.core.errors import AmplifierError, ConfigError, exit_code_for

_STATUS_ORDER = tuple(m for m in KNOWN_PROVIDERS if m in AUTH_PROVIDERS)
_PROVIDER_WIDTH = 16
_VALUE_WIDTH = 25


def _fail(code: int) -> NoReturn:
    raise click.exceptions.Exit(code)


def _credentials_path() -> Path:
    return layout().credentials


def _load_or_exit(path: Path, *, hint: str = "") -> dict[str, Any] | None:
    """The credentials document; a corrupt or refused file exits 1, naming the path."""
    try:
        return load_credentials(path)
    except ConfigError as exc:
        error_line(exc.code, exc.message + hint)
        _fail(1)


@contextmanager
def _exit_on_error(hint: str = "") -> Iterator[None]:
    """Report an engine error (a full disk, a read-only state root) as one `[error]` line."""
    try:
        yield
    except AmplifierError as exc:
        error_line(exc.code, exc.message + hint)
        _fail(exit_code_for(exc.code))


def _mode(path: Path) -> str:
    return format(stat.S_IMODE(os.stat(path).st_mode), "o")


@click.group(name="auth", cls=HelpOnEmptyGroup)
def auth() -> None:
    """Manage stored provider credentials (environment variables always win)."""


def _value_from(provider: str, api_key: str | None, from_stdin: bool, endpoint: bool) -> str | None:
    """The credential to store; None for an endpoint-only update of a provider whose key is
    optional (chat-completions)."""
    if api_key is None and not from_stdin and endpoint and _key_optional(provider):
        return None
    if (api_key is None) == (not from_stdin):
        raise click.UsageError("pass exactly one of API_KEY or --stdin")
    value = sys.stdin.readline().strip() if from_stdin else api_key
    if not value:
        raise click.UsageError("the credential value is empty")
    return value


def _key_optional(provider: str) -> bool:
    spec = KNOWN_PROVIDERS[provider]
    return spec.credential_field == "api_key" and not spec.credential_required


def _check_provider(provider: str) -> None:
    """An unknown provider is a usage error (exit 2), like any other bad argument."""
    if provider == "local":
        click.echo("Provider 'local' needs no credentials.", err=True)
        _fail(2)
    if provider not in AUTH_PROVIDERS:
        known = ", ".join(AUTH_PROVIDERS)
        click.echo(f"Unknown provider '{provider}'. Known: {known}", err=True)
        _fail(2)


@auth.command(name="set")
@click.argument("provider")
@click.argument("api_key", required=False)
@click.option(
    "--endpoint", metavar="URL", help="Store an endpoint (azure-openai, chat-completions)."
)
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the value as one line from stdin.")
def set_cmd(provider: str, api_key: str | None, endpoint: str | None, from_stdin: bool) -> None:
    """Store a provider's API key (for ollama: its host URL).

    chat-completions needs no key: `--endpoint URL` alone stores just its endpoint.
    """
    _check_provider(provider)
    value = _value_from(provider, api_key, from_stdin, endpoint is not None)
    path = _credentials_path()
    hint = "; nothing was written (run `amplifier-agent auth clear --force` to start over)"
    with _exit_on_error("; the credentials file was not changed"), credentials_locked(path):
        doc = _load_or_exit(path, hint=hint)
        save_credentials(path, with_credential(doc, provider, value=value, endpoint=endpoint))
    click.echo(f"Stored credentials for '{provider}' at {path} (mode {_mode(path)}).")


def _shown_value(provider: str, resolved: Resolved) -> str:
    if KNOWN_PROVIDERS[provider].credential_field == "host":
        return resolved.value or "<not set>"
    return mask_secret(resolved.value)


def _shown_source(resolved: Resolved) -> str:
    if resolved.source.startswith("env:"):
        return "env=" + resolved.source.removeprefix("env:")
    return "—" if resolved.source == "none" else resolved.source


@auth.command(name="list")
def list_cmd() -> None:
    """Show each provider's credential (masked) and where it comes from."""
    path = _credentials_path()
    doc = _load_or_exit(path)
    where = f"(mode {_mode(path)})" if doc is not None else "(not present)"
    resolver = CredentialResolver(credentials_path=path)
    rows = [("PROVIDER", "VALUE", "SOURCE")]
    for provider in AUTH_PROVIDERS:
        resolved = _resolve_or_exit(resolver, provider)
        rows.append((provider, _shown_value(provider, resolved), _shown_source(resolved)))
    first = max(_PROVIDER_WIDTH, *(len(row[0]) + 2 for row in rows))
    second = max(_VALUE_WIDTH, *(len(row[1]) + 2 for row in rows))
    click.echo(f"Credentials file: {path} {where}")
    for name, value, source in rows:
        click.echo(f"{name:<{first}}{value:<{second}}{source}")


def _resolve_or_exit(resolver: CredentialResolver, provider: str) -> Resolved:
    try:
        return resolver.credential(provider)
    except ConfigError as exc:
        error_line(exc.code, exc.message)
        _fail(1)


def _status_line(provider: str, resolved: Resolved, in_file: bool) -> str:
    spec = KNOWN_PROVIDERS[provider]
    shown = f" {resolved.value}" if spec.credential_field == "host" and resolved.value else ""
    if resolved.source.startswith("env:"):
        overridden = " (file entry present, overridden)" if in_file else ""
        return f"USING {_shown_source(resolved)}{shown}{overridden}"
    if resolved.source == "file":
        return f"USING file entry{shown}"
    if resolved.source == "default":
        return f"USING default{shown}"
    hint = spec.credential_env or (spec.endpoint_env[0] if spec.endpoint_env else "")
    return f"NOT SET (export {hint} or run `amplifier-agent auth set {provider} ...`)"


@auth.command(name="status")
def status_cmd() -> None:
    """Show the file and the full resolution chain per provider (env wins over the file)."""
    path = _credentials_path()
    doc = _load_or_exit(path)
    click.echo(f"exists: {'yes' if doc is not None else 'no'}")
    if doc is not None:
        click.echo(f"mode: {_mode(path)}")
    click.echo("Per-provider resolution (env wins if both are set):")
    resolver = CredentialResolver(credentials_path=path)
    for provider in _STATUS_ORDER:
        resolved = _resolve_or_exit(resolver, provider)
        in_file = resolver.has_file_entry(provider)
        click.echo(f"  {provider}: {_status_line(provider, resolved, in_file)}")


@auth.command(name="remove")
@click.argument("provider")
def remove_cmd(provider: str) -> None:
    """Remove a provider's stored entry (the environment is not touched)."""
    path = _credentials_path()
    removed = False
    with _exit_on_error("; the credentials file was not changed"), credentials_locked(path):
        doc = _load_or_exit(path)
        if doc is not None:
            updated, removed = without_credential(doc, provider)
            if removed:
                save_credentials(path, updated)
    if removed:
        click.echo(f"Removed stored credential for '{provider}'.")
    else:
        click.echo(f"No stored credential for '{provider}' (no change).")


@auth.command(name="clear")
@click.option("--force", is_flag=True, help="Really delete the credentials file.")
def clear_cmd(force: bool) -> None:
    """Delete the credentials file (needs --force)."""
    path = _credentials_path()
    if not force:
        click.echo(f"Refusing to delete {path} without --force.", err=True)
        _fail(2)
    with _exit_on_error(), credentials_locked(path):
        removed = delete_credentials(path)
    if removed:
        click.echo(f"Removed {path}.")
    else:
        click.echo("No credentials file to clear.")
