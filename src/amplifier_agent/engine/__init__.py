"""The composition root: the one place that builds providers, tools, the store and the loop from
configuration. Every face (CLI, HTTP, wire) runs its turns through one `EngineService` and calls
nothing below this package.

Exports are resolved on first use (module `__getattr__`): a one-turn `run` process must not pay
for the server's start-up, the dispatcher or the diagnostics it never touches.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from amplifier_agent.agent.approval import Asker
    from amplifier_agent.agent.run import CallOptions
    from amplifier_agent.config.host_config import HostConfig, load_host_config, parse_host_config
    from amplifier_agent.engine.audit import now_iso, write_audit
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
        cache_summary,
        dispatch_options,
    )
    from amplifier_agent.engine.open_sessions import SessionBusy, SessionMode
    from amplifier_agent.engine.providers import (
        ProviderPool,
        build_provider,
        list_provider_models,
        resolve_provider_settings,
        select_provider_module,
    )
    from amplifier_agent.engine.response_store import ResponseStore
    from amplifier_agent.engine.server_setup import (
        LoadedProviders,
        Problem,
        load_providers,
        providers_problems,
        startup_store,
    )
    from amplifier_agent.engine.service import DISPATCH_POLICY, HTTP_POLICY, EngineService
    from amplifier_agent.engine.store_select import (
        StoreChoice,
        choose_store,
        open_configured_store,
    )
    from amplifier_agent.engine.store_transfer import Transferred, export_store, import_store
    from amplifier_agent.engine.store_writer import offload
    from amplifier_agent.engine.toolbox import skill_listing
    from amplifier_agent.engine.turn_record import internal_error
    from amplifier_agent.engine.turn_types import (
        OpenedSession,
        ResolvedModel,
        TurnControl,
        TurnPolicy,
        TurnReport,
        TurnRequest,
    )
    from amplifier_agent.store.ids import validate_session_id
    from amplifier_agent.store.protocol import StoreBackend

#: Each export and the module that defines it.
_EXPORTS: dict[str, str] = {
    "Asker": "amplifier_agent.agent.approval",
    "CallOptions": "amplifier_agent.agent.run",
    "DISPATCH_POLICY": "amplifier_agent.engine.service",
    "DispatchOptions": "amplifier_agent.engine.dispatch_turn",
    "DispatchSessions": "amplifier_agent.engine.dispatch_turn",
    "EngineService": "amplifier_agent.engine.service",
    "HTTP_POLICY": "amplifier_agent.engine.service",
    "HostConfig": "amplifier_agent.config.host_config",
    "LoadedProviders": "amplifier_agent.engine.server_setup",
    "OpenedSession": "amplifier_agent.engine.turn_types",
    "Probe": "amplifier_agent.engine.diagnostics",
    "Problem": "amplifier_agent.engine.server_setup",
    "ProviderPool": "amplifier_agent.engine.providers",
    "ResponseStore": "amplifier_agent.engine.response_store",
    "ResolvedModel": "amplifier_agent.engine.turn_types",
    "SessionBusy": "amplifier_agent.engine.open_sessions",
    "SessionMode": "amplifier_agent.engine.open_sessions",
    "StoreBackend": "amplifier_agent.store.protocol",
    "StoreChoice": "amplifier_agent.engine.store_select",
    "Transferred": "amplifier_agent.engine.store_transfer",
    "TurnControl": "amplifier_agent.engine.turn_types",
    "TurnPolicy": "amplifier_agent.engine.turn_types",
    "TurnReport": "amplifier_agent.engine.turn_types",
    "TurnRequest": "amplifier_agent.engine.turn_types",
    "build_provider": "amplifier_agent.engine.providers",
    "cache_summary": "amplifier_agent.engine.dispatch_turn",
    "choose_store": "amplifier_agent.engine.store_select",
    "dispatch_options": "amplifier_agent.engine.dispatch_turn",
    "export_store": "amplifier_agent.engine.store_transfer",
    "import_store": "amplifier_agent.engine.store_transfer",
    "internal_error": "amplifier_agent.engine.turn_record",
    "list_provider_models": "amplifier_agent.engine.providers",
    "offload": "amplifier_agent.engine.store_writer",
    "load_host_config": "amplifier_agent.config.host_config",
    "load_providers": "amplifier_agent.engine.server_setup",
    "mcp_sdk_probe": "amplifier_agent.engine.diagnostics",
    "now_iso": "amplifier_agent.engine.audit",
    "open_configured_store": "amplifier_agent.engine.store_select",
    "parse_host_config": "amplifier_agent.config.host_config",
    "providers_problems": "amplifier_agent.engine.server_setup",
    "resolve_provider_settings": "amplifier_agent.engine.providers",
    "routing_matrix_probe": "amplifier_agent.engine.diagnostics",
    "select_provider_module": "amplifier_agent.engine.providers",
    "session_store_round_trip": "amplifier_agent.engine.diagnostics",
    "shared_store_probe": "amplifier_agent.engine.diagnostics",
    "skill_listing": "amplifier_agent.engine.toolbox",
    "startup_store": "amplifier_agent.engine.server_setup",
    "validate_session_id": "amplifier_agent.store.ids",
    "write_audit": "amplifier_agent.engine.audit",
}

__all__ = [
    "DISPATCH_POLICY",
    "HTTP_POLICY",
    "Asker",
    "CallOptions",
    "DispatchOptions",
    "DispatchSessions",
    "EngineService",
    "HostConfig",
    "LoadedProviders",
    "OpenedSession",
    "Probe",
    "Problem",
    "ProviderPool",
    "ResolvedModel",
    "ResponseStore",
    "SessionBusy",
    "SessionMode",
    "StoreBackend",
    "StoreChoice",
    "Transferred",
    "TurnControl",
    "TurnPolicy",
    "TurnReport",
    "TurnRequest",
    "build_provider",
    "cache_summary",
    "choose_store",
    "dispatch_options",
    "export_store",
    "import_store",
    "internal_error",
    "list_provider_models",
    "load_host_config",
    "load_providers",
    "mcp_sdk_probe",
    "now_iso",
    "offload",
    "open_configured_store",
    "parse_host_config",
    "providers_problems",
    "resolve_provider_settings",
    "routing_matrix_probe",
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
