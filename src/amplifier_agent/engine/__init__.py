"""The composition root: the one place that builds providers, tools, the store and the loop from
configuration. Every face (CLI, HTTP, wire) calls this package and nothing below it.

Exports are resolved on first use (module `__getattr__`): a one-turn `run` process must not pay
for the server engine, the dispatcher or the diagnostics it never touches.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from amplifier_agent.agent.run import CallOptions
    from amplifier_agent.config.host_config import HostConfig, load_host_config, parse_host_config
    from amplifier_agent.engine.cli_turn import (
        CliReport,
        CliTurn,
        SessionMode,
        run_cli_turn,
        select_provider_module,
        validate_session_id,
        write_audit,
    )
    from amplifier_agent.engine.diagnostics import (
        Probe,
        mcp_sdk_probe,
        routing_matrix_probe,
        session_store_round_trip,
        shared_store_probe,
    )
    from amplifier_agent.engine.dispatch_turn import (
        DispatchOptions,
        DispatchSessions,
        DispatchTurn,
        OpenedSession,
        cache_summary,
        dispatch_options,
    )
    from amplifier_agent.engine.providers import (
        ProviderPool,
        build_provider,
        list_provider_models,
        resolve_provider_settings,
    )
    from amplifier_agent.engine.server_engine import ChatTurn, ServerEngine, SessionBusy
    from amplifier_agent.engine.server_setup import (
        LoadedProviders,
        Problem,
        load_providers,
        providers_problems,
        startup_store,
    )
    from amplifier_agent.engine.store_select import (
        StoreChoice,
        choose_store,
        open_configured_store,
    )
    from amplifier_agent.engine.store_transfer import Transferred, export_store, import_store
    from amplifier_agent.engine.toolbox import skill_listing
    from amplifier_agent.engine.turn import TurnControl, TurnReport

#: Each export and the module that defines it.
_EXPORTS: dict[str, str] = {
    "CallOptions": "amplifier_agent.agent.run",
    "ChatTurn": "amplifier_agent.engine.server_engine",
    "CliReport": "amplifier_agent.engine.cli_turn",
    "CliTurn": "amplifier_agent.engine.cli_turn",
    "DispatchOptions": "amplifier_agent.engine.dispatch_turn",
    "DispatchSessions": "amplifier_agent.engine.dispatch_turn",
    "DispatchTurn": "amplifier_agent.engine.dispatch_turn",
    "HostConfig": "amplifier_agent.config.host_config",
    "LoadedProviders": "amplifier_agent.engine.server_setup",
    "OpenedSession": "amplifier_agent.engine.dispatch_turn",
    "Probe": "amplifier_agent.engine.diagnostics",
    "Problem": "amplifier_agent.engine.server_setup",
    "ProviderPool": "amplifier_agent.engine.providers",
    "ServerEngine": "amplifier_agent.engine.server_engine",
    "SessionBusy": "amplifier_agent.engine.server_engine",
    "SessionMode": "amplifier_agent.engine.cli_turn",
    "StoreChoice": "amplifier_agent.engine.store_select",
    "choose_store": "amplifier_agent.engine.store_select",
    "open_configured_store": "amplifier_agent.engine.store_select",
    "startup_store": "amplifier_agent.engine.server_setup",
    "Transferred": "amplifier_agent.engine.store_transfer",
    "TurnControl": "amplifier_agent.engine.turn",
    "export_store": "amplifier_agent.engine.store_transfer",
    "import_store": "amplifier_agent.engine.store_transfer",
    "TurnReport": "amplifier_agent.engine.turn",
    "build_provider": "amplifier_agent.engine.providers",
    "cache_summary": "amplifier_agent.engine.dispatch_turn",
    "dispatch_options": "amplifier_agent.engine.dispatch_turn",
    "list_provider_models": "amplifier_agent.engine.providers",
    "load_host_config": "amplifier_agent.config.host_config",
    "load_providers": "amplifier_agent.engine.server_setup",
    "mcp_sdk_probe": "amplifier_agent.engine.diagnostics",
    "parse_host_config": "amplifier_agent.config.host_config",
    "providers_problems": "amplifier_agent.engine.server_setup",
    "resolve_provider_settings": "amplifier_agent.engine.providers",
    "routing_matrix_probe": "amplifier_agent.engine.diagnostics",
    "run_cli_turn": "amplifier_agent.engine.cli_turn",
    "select_provider_module": "amplifier_agent.engine.cli_turn",
    "session_store_round_trip": "amplifier_agent.engine.diagnostics",
    "shared_store_probe": "amplifier_agent.engine.diagnostics",
    "skill_listing": "amplifier_agent.engine.toolbox",
    "validate_session_id": "amplifier_agent.engine.cli_turn",
    "write_audit": "amplifier_agent.engine.cli_turn",
}

__all__ = [
    "CallOptions",
    "ChatTurn",
    "CliReport",
    "CliTurn",
    "DispatchOptions",
    "DispatchSessions",
    "DispatchTurn",
    "HostConfig",
    "LoadedProviders",
    "OpenedSession",
    "Probe",
    "Problem",
    "ProviderPool",
    "ServerEngine",
    "SessionBusy",
    "SessionMode",
    "StoreChoice",
    "Transferred",
    "TurnControl",
    "TurnReport",
    "build_provider",
    "cache_summary",
    "choose_store",
    "dispatch_options",
    "export_store",
    "import_store",
    "list_provider_models",
    "load_host_config",
    "load_providers",
    "mcp_sdk_probe",
    "open_configured_store",
    "parse_host_config",
    "providers_problems",
    "resolve_provider_settings",
    "routing_matrix_probe",
    "run_cli_turn",
    "select_provider_module",
    "session_store_round_trip",
    "shared_store_probe",
    "skill_listing",
    "startup_store",
    "validate_session_id",
    "write_audit",
]


def __getattr__(name: str) -> Any:
    """Import the module defining `name` on first access and keep the value for later ones."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
