"""Self-checks `doctor` runs below the faces: a session-store round trip in a throwaway
workspace, whether the MCP client (and so its SDK) imports, and whether a packaged routing matrix
loads. Each returns a `Probe` instead of raising, so one broken part never hides the others."""

from __future__ import annotations

import importlib
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from amplifier_agent.agent.routing import load_matrix
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.messages import Message, UserMessage
from amplifier_agent.store.sessions import SessionStore

__all__ = [
    "Probe",
    "mcp_sdk_probe",
    "routing_matrix_probe",
    "session_store_round_trip",
    "shared_store_probe",
]

#: The module the engine loads MCP servers with; importing it imports the SDK the way a turn does.
MCP_CLIENT_MODULE = "amplifier_agent.tools.mcp"
_PROBE_WORKSPACE = "doctor"
_PROBE_SESSION = "doctor-round-trip"


@dataclass(frozen=True, slots=True)
class Probe:
    """The outcome of one self-check and a one-line detail (what passed, or what broke)."""

    ok: bool
    detail: str


def session_store_round_trip(temp_root: Path | None = None) -> Probe:
    """Create a session, append a message, load it back and delete it, all inside a fresh
    temporary directory (under `temp_root`, default the system temp dir) that is removed after.

    The user's state root is never touched: a diagnostic must not leave sessions behind.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="amplifier-agent-doctor-", dir=temp_root) as tmp:
            return _round_trip(Path(tmp))
    except OSError as exc:
        return Probe(False, f"temp workspace failed: {_describe(exc)}")


def _round_trip(directory: Path) -> Probe:
    store = SessionStore(directory / "workspaces", _PROBE_WORKSPACE)
    # A random marker proves the message read back is the one just written.
    sent: list[Message] = [UserMessage(f"doctor round trip {secrets.token_hex(8)}")]
    step = "create"
    try:
        store.create(_PROBE_SESSION, cwd=str(directory))
        step = "append"
        store.append(_PROBE_SESSION, sent)
        step = "load"
        loaded = store.load(_PROBE_SESSION)
        if loaded != sent:
            return Probe(False, f"load returned {len(loaded)} message(s), not the one appended")
        step = "delete"
        store.delete(_PROBE_SESSION)
        if store.exists(_PROBE_SESSION):
            return Probe(False, "delete left the session in place")
    except (AmplifierError, OSError, ValueError) as exc:
        return Probe(False, f"{step} failed: {_describe(exc)}")
    return Probe(True, "create, append, load and delete passed in a temp workspace")


def mcp_sdk_probe() -> Probe:
    """Whether the MCP client module imports; `detail` is the SDK version or the import error."""
    try:
        importlib.import_module(MCP_CLIENT_MODULE)
    except ImportError as exc:
        return Probe(False, _describe(exc))
    try:
        version = metadata.version("mcp")
    except metadata.PackageNotFoundError:
        version = "unknown version"
    return Probe(True, f"mcp {version}")


def routing_matrix_probe(
    name: str, role_overrides: Mapping[str, Sequence[str]] | None = None
) -> Probe:
    """Whether the packaged matrix `name` loads, parses and takes `routing.roles`."""
    try:
        matrix = load_matrix(name).with_roles(role_overrides or {})
    except AmplifierError as exc:
        return Probe(False, f"{exc.code}: {exc.message}")
    return Probe(True, f"{len(matrix.roles)} roles")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AmplifierError):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def shared_store_probe(url: str) -> tuple[str, Probe]:
    """A database store's connection, schema version and round-trip time, read without
    migrating; the status is `ok`, `warn` (not migrated yet) or `fail`."""
    from amplifier_agent.store.postgres.health import health

    try:
        found = health(url)
    except AmplifierError as error:
        return "fail", Probe(False, error.message)
    rtt = f"round trip {found.rtt_ms:.2f} ms"
    if found.schema > found.latest:
        detail = f"schema {found.schema} is newer than this version supports ({found.latest})"
        return "fail", Probe(False, f"{detail}; {rtt}")
    if found.schema < found.latest:
        detail = f"schema {found.schema}, the first server start migrates it to {found.latest}"
        return "warn", Probe(True, f"{detail}; {rtt}")
    return "ok", Probe(True, f"schema {found.schema} (current); {rtt}")
