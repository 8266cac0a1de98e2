"""The MCP config file (`{"mcpServers": {...}}`): loading, validation, and the stdio entries in it.

Kept free of the MCP SDK so reading a config costs no SDK import. Keys other tools add to the
same file format (`type`, `disabled`, ...) are ignored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from amplifier_agent.core.errors import ConfigError
from amplifier_agent.tools.schema import describe

logger = logging.getLogger(__name__)

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    """One stdio server: its argv (never run through a shell), extra env and cwd."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    cwd: str | None = None


class _Entry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    command: str | None = None
    args: list[str] = []
    env: dict[str, str] = {}
    cwd: str | None = None
    url: str | None = None
    type: str | None = None


class _File(BaseModel):
    model_config = ConfigDict(extra="ignore")

    mcpServers: dict[str, _Entry]


def load_mcp_config(path: Path | str) -> dict[str, Any]:
    """Read and validate an MCP config file; errors are `ConfigError`s naming the path."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read MCP config ({exc})", code="config_unreadable"
        ) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})", code="config_malformed_json") from exc
    _validate(data, where=str(path))
    assert isinstance(data, dict)
    return data


def parse_mcp_servers(config: Mapping[str, Any]) -> tuple[McpServerConfig, ...]:
    """The stdio servers of a parsed config; `url` (remote) entries are skipped with a warning."""
    parsed = _validate(config, where="MCP config")
    servers = []
    for name, entry in parsed.mcpServers.items():
        if entry.url is not None or entry.type not in (None, "stdio"):
            logger.warning("MCP server %s is not a stdio server; skipped (stdio only)", name)
            continue
        assert entry.command is not None  # _validate guarantees it for stdio entries
        servers.append(
            McpServerConfig(
                name=name,
                command=entry.command,
                args=tuple(entry.args),
                env=MappingProxyType(dict(entry.env)),
                cwd=entry.cwd,
            )
        )
    return tuple(servers)


def _validate(data: object, *, where: str) -> _File:
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {describe(exc)}", code="config_invalid_type") from None
    for name, entry in parsed.mcpServers.items():
        remote = entry.url is not None or entry.type not in (None, "stdio")
        if not remote and not (entry.command and entry.command.strip()):
            raise ConfigError(
                f"{where}: mcpServers.{name}.command must be a non-empty string",
                code="config_invalid_type",
            )
    return parsed
