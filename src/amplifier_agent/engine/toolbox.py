"""The tools one root turn offers: built-ins, MCP tools, `load_skill` and `delegate`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amplifier_agent.agent.delegate import Delegation, delegate_tool
from amplifier_agent.agent.skills import SkillCatalog, discover_skills
from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.config.paths import home
from amplifier_agent.tools.base import Tool
from amplifier_agent.tools.builtins import builtin_tools

if TYPE_CHECKING:
    from amplifier_agent.tools.mcp import McpManager

MCP_CONFIG_ENV = "AMPLIFIER_MCP_CONFIG"


def skill_catalog(config: HostConfig, cwd: Path) -> SkillCatalog:
    return discover_skills(
        cwd,
        home(),
        Path.home(),
        extra_dirs=config.skills.dirs,
        exclude=config.skills.exclude,
    )


def skill_listing(config: HostConfig, cwd: Path) -> list[dict[str, Any]]:
    """The visible skills as `config show` prints them (source, path, shadowed entries)."""
    return [skill.to_json() for skill in skill_catalog(config, cwd).skills]


def mcp_config_path(config: HostConfig, fallback: str | None = None) -> str | None:
    """`mcp.configPath` > `$AMPLIFIER_MCP_CONFIG` > the dispatch `initialize.mcpConfigPath`."""
    env_value = os.environ.get(MCP_CONFIG_ENV, "").strip() or None
    return config.mcp_config_path or env_value or fallback


def mcp_manager(path: str | None) -> McpManager | None:
    """The MCP servers of the config file at `path` (the SDK is imported only when there is one)."""
    if not path:
        return None
    from amplifier_agent.tools.mcp import McpManager
    from amplifier_agent.tools.mcp_config import load_mcp_config

    return McpManager(load_mcp_config(path))


def assemble_tools(
    mcp_tools: tuple[Tool, ...], skill_tool: Tool | None, delegation: Delegation | None
) -> Mapping[str, Tool]:
    tools: dict[str, Tool] = {t.name: t for t in builtin_tools()}
    tools.update((t.name, t) for t in mcp_tools)
    if skill_tool is not None:
        tools[skill_tool.name] = skill_tool
    if delegation is not None:
        delegate = delegate_tool(delegation)
        tools[delegate.name] = delegate
    return tools
