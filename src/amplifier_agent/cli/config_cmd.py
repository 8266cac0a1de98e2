"""`config show [--config PATH]` (SPEC §7.5): the effective configuration and where each part
comes from, as JSON with secrets masked."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from amplifier_agent.cli.common import HelpOnEmptyGroup
from amplifier_agent.config.credentials import CredentialResolver
from amplifier_agent.config.host_config import (
    ConfigLocation,
    HostConfig,
    locate_host_config,
    read_host_config,
)
from amplifier_agent.config.masking import mask_secret_values
from amplifier_agent.config.paths import resolve_home, resolve_workspace
from amplifier_agent.config.provider_select import select_matrix, select_run_provider
from amplifier_agent.config.store_url import choose_store
from amplifier_agent.core.errors import ConfigError

MCP_CONFIG_ENV = "AMPLIFIER_MCP_CONFIG"

Section = dict[str, Any]


def _error(exc: ConfigError) -> dict[str, str]:
    return {"code": exc.code, "message": exc.message}


def _host_config(location: ConfigLocation) -> tuple[Section, HostConfig, bool]:
    section: Section = {"path": None, "source": location.source, "values": {}, "error": None}
    if location.path is None:
        return section, HostConfig(), True
    section["path"] = str(location.path)
    try:
        loaded = read_host_config(location.path)
    except ConfigError as exc:
        section.update(values=None, error=_error(exc))
        return section, HostConfig(), False
    section["values"] = mask_secret_values(dict(loaded.raw))
    return section, loaded, True


def _provider(loaded: HostConfig, env: Mapping[str, str]) -> tuple[Section, str | None]:
    try:
        chosen = select_run_provider(loaded.provider, CredentialResolver(env=env))
    except ConfigError as exc:
        section = {"module": loaded.provider.module, "source": None, "credential_source": None}
        return {**section, "error": _error(exc)}, None
    section = {
        "module": chosen.module,
        "source": chosen.source,
        "credential_source": chosen.credential.source,
    }
    return section, chosen.module


def _workspace(env: Mapping[str, str]) -> tuple[Section, bool]:
    try:
        value, source = resolve_workspace(env=env)
    except ConfigError as exc:
        return {
            "value": None,
            "source": "env:AMPLIFIER_AGENT_WORKSPACE",
            "error": _error(exc),
        }, False
    return {"value": value, "source": source}, True


def _mcp(loaded: HostConfig, env: Mapping[str, str]) -> Section:
    if loaded.mcp_config_path is not None:
        return {"configPath": loaded.mcp_config_path, "source": "host_config"}
    value = env.get(MCP_CONFIG_ENV)
    if value is not None and value.strip():
        return {"configPath": value, "source": f"env:{MCP_CONFIG_ENV}"}
    return {"configPath": None, "source": "none"}


def _skills(loaded: HostConfig) -> list[Section]:
    from amplifier_agent.engine import skill_listing

    return skill_listing(loaded, Path.cwd())


def build_report(config_path: str | None, env: Mapping[str, str]) -> tuple[Section, bool]:
    """The `config show` document and whether everything loaded."""
    home_path, home_source = resolve_home(env)
    host_section, loaded, host_ok = _host_config(locate_host_config(config_path, env))
    provider_section, module = _provider(loaded, env)
    matrix, matrix_source = select_matrix(loaded.routing, module or "")
    workspace_section, workspace_ok = _workspace(env)
    report: Section = {
        "amplifier_agent_home": {"value": str(home_path), "source": home_source},
        "host_config": host_section,
        "provider": provider_section,
        "routing": {"matrix": matrix, "source": matrix_source},
        "workspace": workspace_section,
        "mcp": _mcp(loaded, env),
        "skills": _skills(loaded),
        "store": choose_store(None, loaded, env).to_json(),
    }
    return report, host_ok and module is not None and workspace_ok


@click.group(name="config", cls=HelpOnEmptyGroup)
def config() -> None:
    """Inspect the effective configuration."""


@config.command(name="show")
@click.option("--config", "config_path", metavar="PATH", help="host_config JSON file.")
def show(config_path: str | None) -> None:
    """Print the effective configuration and the source of each value as JSON."""
    report, ok = build_report(config_path, os.environ)
    click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    if not ok:
        raise click.exceptions.Exit(2)
