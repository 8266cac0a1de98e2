"""`models list` (SPEC §5.5): live model listings of one provider or of the whole catalog,
rendered as JSON or a table, with each successful listing cached under `cache/models/`."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import click
import orjson

from amplifier_agent.cli.common import HelpOnEmptyGroup, error_line
from amplifier_agent.config.credentials import resolve_endpoint
from amplifier_agent.config.host_config import ProviderEntry
from amplifier_agent.core.catalog import KNOWN_PROVIDERS
from amplifier_agent.core.errors import (
    AmplifierError,
    ModuleNotInstalled,
    ProviderError,
    ProviderNotConfigured,
)
from amplifier_agent.core.models import ModelInfo

Status = Literal["ok", "credentials_missing", "module_not_installed", "error"]

#: An unconfigured local Ollama is usually just not running; don't let it hold up the others.
OLLAMA_DEFAULT_HOST_TIMEOUT_S = 2.0

_DATED_SUFFIX = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2}|latest)$")
_NO_LIST = "no live model list available"
#: Nothing names an Ollama host and none answers on the default one: an unconfigured provider,
#: reported like the others rather than as an outage.
_OLLAMA_NOT_CONFIGURED = (
    "not configured: no Ollama answers at the default host "
    f"{KNOWN_PROVIDERS['ollama'].default_endpoint} "
    "(set OLLAMA_HOST or run `amplifier-agent auth set ollama URL`)"
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of listing one target; `error` is set unless `status` is `ok`."""

    provider_id: str
    status: Status
    models: tuple[ModelInfo, ...] = ()
    error: str | None = None


@click.group(name="models", cls=HelpOnEmptyGroup)
def models() -> None:
    """List the models providers serve."""


@models.command(name="list")
@click.option("--provider", "provider_name", metavar="NAME", help="A provider id or module.")
@click.option(
    "--output",
    type=click.Choice(["auto", "json", "table"], case_sensitive=False),
    default="auto",
    show_default=True,
    help="auto = table on a terminal, else JSON.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=15.0,
    show_default=True,
    help="Seconds to wait for each provider.",
)
@click.option("--latest", is_flag=True, help="Keep only the newest model of each family.")
@click.option("--config", "config_path", metavar="PATH", help="host_config file.")
@click.pass_context
def list_models(
    ctx: click.Context,
    provider_name: str | None,
    output: str,
    timeout: float,
    latest: bool,
    config_path: str | None,
) -> None:
    """List live models of one provider (--provider) or of every catalog provider."""
    from amplifier_agent import engine  # deferred: building adapters imports provider SDKs

    try:
        _, host_config = engine.load_host_config(config_path)
    except AmplifierError as exc:
        error_line(exc.code, exc.message)
        ctx.exit(2)
    entries = {e.id: e for e in host_config.providers or ()}
    as_table = _wants_table(output)
    if provider_name is None:
        targets = [_catalog_target(module, entries) for module in KNOWN_PROVIDERS]
        ctx.exit(_aggregate(targets, timeout=timeout, latest=latest, as_table=as_table))
    target = _named_target(provider_name, entries)
    if target is None:
        known = ", ".join(sorted({*KNOWN_PROVIDERS, *entries}))
        click.echo(f"Unknown provider '{provider_name}'. Known: {known}", err=True)
        ctx.exit(1)
    ctx.exit(_single(target, timeout=timeout, latest=latest, as_table=as_table))


def _wants_table(output: str) -> bool:
    choice = output.lower()
    if choice == "auto":
        return sys.stdout.isatty()
    return choice == "table"


def _named_target(name: str, entries: Mapping[str, ProviderEntry]) -> ProviderEntry | None:
    """`--provider NAME`: a host_config provider id first, else a catalog module."""
    entry = entries.get(name)
    if entry is not None:
        return entry
    if name in KNOWN_PROVIDERS:
        return ProviderEntry(name, name)
    return None


def _catalog_target(module: str, entries: Mapping[str, ProviderEntry]) -> ProviderEntry:
    """A catalog module, with the config of the host_config entry of that name serving it."""
    entry = entries.get(module)
    if entry is not None and entry.module == module:
        return entry
    return ProviderEntry(module, module)


# -- listing ------------------------------------------------------------------------------


async def _fetch(target: ProviderEntry, timeout: float) -> Outcome:
    from amplifier_agent import engine

    pid = target.id
    try:
        listed = await engine.list_provider_models(pid, target.module, timeout, target.config)
    except ProviderNotConfigured as exc:
        return Outcome(pid, "credentials_missing", error=_credentials_reason(exc))
    except ModuleNotInstalled as exc:
        return Outcome(pid, "module_not_installed", error=exc.message)
    except ProviderError as exc:
        if exc.upstream == "upstream_unavailable" and _is_default_ollama(target):
            return Outcome(pid, "credentials_missing", error=_OLLAMA_NOT_CONFIGURED)
        # Its message already starts with the upstream cause (`upstream_timeout: ...`).
        return Outcome(pid, "error", error=exc.message)
    except AmplifierError as exc:
        return Outcome(pid, "error", error=str(exc))
    return Outcome(pid, "ok", tuple(listed))


def _credentials_reason(exc: ProviderNotConfigured) -> str:
    if exc.env_var and exc.env_var not in exc.message:
        return f"{exc.message} (set {exc.env_var})"
    return exc.message


def _is_default_ollama(target: ProviderEntry) -> bool:
    """True when Ollama would be reached on its catalog default host (nothing configured)."""
    if target.module != "ollama":
        return False
    try:
        endpoint = resolve_endpoint(
            "ollama", provider_id=target.id, config=target.config, env=os.environ
        )
    except AmplifierError:
        return False
    return endpoint.source == "default"


async def _fetch_guarded(target: ProviderEntry, timeout: float) -> Outcome:
    """`_fetch` for aggregate mode, where one broken adapter must not hide the others' lists."""
    if _is_default_ollama(target):
        timeout = min(timeout, OLLAMA_DEFAULT_HOST_TIMEOUT_S)
    try:
        return await _fetch(target, timeout)
    except Exception as exc:  # the face's outer edge: report it in this provider's row
        return Outcome(target.id, "error", error=f"internal: {type(exc).__name__}: {exc}")


async def _fetch_all(targets: Sequence[ProviderEntry], timeout: float) -> list[Outcome]:
    return list(await asyncio.gather(*(_fetch_guarded(t, timeout) for t in targets)))


def family_of(model_id: str) -> str:
    """A model's family: its id without a trailing `-YYYYMMDD`, `-YYYY-MM-DD` or `-latest`."""
    return _DATED_SUFFIX.sub("", model_id)


def latest_per_family(listed: Sequence[ModelInfo]) -> tuple[ModelInfo, ...]:
    """The newest (`created`) model of each family, in listing order; ties keep the first."""
    newest: dict[str, ModelInfo] = {}
    for info in listed:
        family = family_of(info.id)
        kept = newest.get(family)
        if kept is None or info.created > kept.created:
            newest[family] = info
    chosen = {id(info) for info in newest.values()}
    return tuple(info for info in listed if id(info) in chosen)


# -- single provider ----------------------------------------------------------------------


def _single(target: ProviderEntry, *, timeout: float, latest: bool, as_table: bool) -> int:
    fetched_at = _utc_now()
    outcome = asyncio.run(_fetch(target, timeout))
    if outcome.status != "ok":
        click.echo(f"# {target.id}: {outcome.error}", err=True)
        return 2
    _write_cache(target.id, outcome.models)
    shown = latest_per_family(outcome.models) if latest else outcome.models
    if as_table:
        if shown:
            click.echo(render_models_table(shown))
    else:
        document = {
            "schema_version": 1,
            "provider": target.id,
            "fetched_at": fetched_at,
            "filtered": latest,
            "models": [info.to_json() for info in shown],
        }
        click.echo(_dumps(document))
    if not shown:
        click.echo(f"# {target.id}: {_NO_LIST}", err=True)
    return 0


def render_models_table(listed: Sequence[ModelInfo]) -> str:
    """`ID  DISPLAY NAME  CONTEXT  CAPABILITIES`, one row per model."""
    rows = [("ID", "DISPLAY NAME", "CONTEXT", "CAPABILITIES")]
    for info in listed:
        context = "—" if info.context_window is None else str(info.context_window)
        rows.append((info.id, info.display_name, context, ", ".join(info.capabilities) or "—"))
    return _columns(rows)


def _columns(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


# -- aggregate ----------------------------------------------------------------------------


def _aggregate(
    targets: Sequence[ProviderEntry], *, timeout: float, latest: bool, as_table: bool
) -> int:
    fetched_at = _utc_now()
    outcomes = asyncio.run(_fetch_all(targets, timeout))
    for outcome in outcomes:
        if outcome.status == "ok":
            _write_cache(outcome.provider_id, outcome.models)
    if latest:
        outcomes = [replace(o, models=latest_per_family(o.models)) for o in outcomes]
    if as_table:
        click.echo(render_aggregate_table(outcomes))
    else:
        document = {
            "schema_version": 1,
            "fetched_at": fetched_at,
            "filtered": latest,
            "results": [_result_json(outcome) for outcome in outcomes],
        }
        click.echo(_dumps(document))
    if any(outcome.status == "ok" for outcome in outcomes):
        return 0
    for outcome in outcomes:
        click.echo(f"# {outcome.provider_id}: {outcome.error}", err=True)
    return 2


def _result_json(outcome: Outcome) -> dict[str, Any]:
    result: dict[str, Any] = {
        "provider": outcome.provider_id,
        "status": outcome.status,
        "models": [info.to_json() for info in outcome.models],
    }
    if outcome.error is not None:
        result["error"] = outcome.error
    return result


def render_aggregate_table(outcomes: Sequence[Outcome]) -> str:
    """`PROVIDER  STATUS  MODELS`: the first three ids and the total, or `— (<error>)`."""
    rows = [("PROVIDER", "STATUS", "MODELS")]
    for outcome in outcomes:
        rows.append((outcome.provider_id, outcome.status, _models_cell(outcome)))
    return _columns(rows)


def _models_cell(outcome: Outcome) -> str:
    if outcome.status != "ok":
        return f"— ({outcome.error})"
    ids = [info.id for info in outcome.models]
    if not ids:
        return f"— ({_NO_LIST})"
    if len(ids) <= 3:
        return ", ".join(ids)
    return f"{', '.join(ids[:3])}, … ({len(ids)} total)"


# -- output and cache ---------------------------------------------------------------------


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _dumps(document: Mapping[str, Any]) -> str:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode("utf-8")


def _write_cache(provider_id: str, listed: Sequence[ModelInfo]) -> None:
    """Record a successful listing for routing; an empty one is not recorded, because it would
    hide the provider from routing for a whole cache lifetime."""
    from amplifier_agent.engine.model_cache import write_model_cache

    if listed:
        write_model_cache(provider_id, listed)
