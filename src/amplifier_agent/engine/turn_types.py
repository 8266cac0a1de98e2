"""The shapes of one turn: what a face decides before it (`TurnSetup`), how it may be cancelled
(`TurnControl`), what it reports (`TurnReport`), and the working objects while it runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from amplifier_agent.agent.approval import ApprovalPolicy
from amplifier_agent.agent.routing import ModelChoice, UsableProvider
from amplifier_agent.agent.run import CallOptions, TurnState
from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.events import DisplayEvent
from amplifier_agent.core.messages import Message, ToolCall, ToolSpec
from amplifier_agent.core.usage import Usage
from amplifier_agent.engine.providers import ProviderPool
from amplifier_agent.engine.store_writer import StoreWriter
from amplifier_agent.engine.turn_statics import TurnStatics
from amplifier_agent.engine.usable import ProviderRef
from amplifier_agent.store.ledger import LedgerStatus
from amplifier_agent.store.protocol import StoreBackend, StoredSession

Face = Literal["cli", "http", "dispatch"]


@dataclass
class TurnControl:
    """Set by a face before it cancels a turn, so the turn is recorded with the right status."""

    cancel_status: LedgerStatus = "cancelled"


@dataclass(frozen=True, slots=True)
class TurnSetup:
    """Everything a face decides about a turn before it runs."""

    face: Face
    cwd: Path
    workspace: str
    turn_id: str
    request_id: str
    host_config: HostConfig
    active: ProviderRef
    approval: ApprovalPolicy
    new_messages: tuple[Message, ...]
    history: tuple[Message, ...] = ()
    session: StoredSession | None = None
    model: str | None = None
    host_tools: tuple[ToolSpec, ...] = ()
    options: CallOptions = field(default_factory=CallOptions)
    mcp_fallback_path: str | None = None
    #: A long-lived pool (the server's); without one the turn builds and closes its own.
    pool: ProviderPool | None = None
    #: Lets the face say why it cancels the turn (client gone, server shutting down).
    control: TurnControl | None = None
    #: The providers routing may use, when the face already knows them (the server's registry).
    usable: tuple[UsableProvider, ...] | None = None
    #: Skills, system prompt and model limits kept across turns (the server's); without them
    #: the turn derives its own.
    statics: TurnStatics | None = None
    #: Where session and ledger writes run (the server's thread); without one, on the spot.
    writer: StoreWriter | None = None
    #: Where the session lives and the turn's ledger line goes; without one, the files.
    store: StoreBackend | None = None


@dataclass(frozen=True, slots=True)
class TurnReport:
    session_id: str
    turn_id: str
    reply: str
    usage: Usage
    duration_ms: int
    error: AmplifierError | None = None
    host_calls: tuple[ToolCall, ...] = ()
    provider_id: str = ""
    model: str = ""


@dataclass
class Running:
    """Per-turn working objects, closed together at the end."""

    setup: TurnSetup
    emit: Callable[[DisplayEvent], None]
    pool: ProviderPool
    state: TurnState
    started: float = field(default_factory=time.monotonic)
    choice: ModelChoice | None = None

    def duration_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)
