"""amplifier-agent-py: run amplifier-agent turns from Python (bring your own engine binary)."""

from __future__ import annotations

from amplifier_agent_py.agent import AgentHandle, spawn_agent
from amplifier_agent_py.constants import (
    DEFAULT_TIMEOUT_MS,
    PROTOCOL_VERSION_REQUIRED_BY_WRAPPER,
    __version__,
)
from amplifier_agent_py.discovery import EngineInfo, get_engine_info
from amplifier_agent_py.errors import AgentError
from amplifier_agent_py.models import list_models
from amplifier_agent_py.persistent import PersistentAgentHandle
from amplifier_agent_py.sync import SyncAgentHandle, spawn_agent_sync

__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "PROTOCOL_VERSION_REQUIRED_BY_WRAPPER",
    "AgentError",
    "AgentHandle",
    "EngineInfo",
    "PersistentAgentHandle",
    "SyncAgentHandle",
    "__version__",
    "get_engine_info",
    "list_models",
    "spawn_agent",
    "spawn_agent_sync",
]
