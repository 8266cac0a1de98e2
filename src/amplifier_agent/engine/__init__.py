"""The composition root: the one place that builds providers, tools, the store and the loop from
configuration. Every face (CLI, HTTP, wire) calls this package and nothing below it."""

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
)
from amplifier_agent.engine.toolbox import skill_listing
from amplifier_agent.engine.turn import TurnControl, TurnReport

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
    "TurnControl",
    "TurnReport",
    "build_provider",
    "cache_summary",
    "dispatch_options",
    "list_provider_models",
    "load_host_config",
    "load_providers",
    "mcp_sdk_probe",
    "parse_host_config",
    "providers_problems",
    "resolve_provider_settings",
    "routing_matrix_probe",
    "run_cli_turn",
    "select_provider_module",
    "session_store_round_trip",
    "skill_listing",
    "validate_session_id",
    "write_audit",
]
