"""The shapes of one turn: what a face asks for (`TurnRequest`) under which rules
(`TurnPolicy`), how it may be cancelled (`TurnControl`), what it reports (`TurnReport`); and,
inside the engine, the turn fully resolved (`TurnSetup`) and its working objects (`Running`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

from amplifier_agent.agent.approval import ApprovalMode, ApprovalPolicy, Asker
from amplifier_agent.agent.routing import ModelChoice, UsableProvider
from amplifier_agent.agent.run import CallOptions, TurnState
from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.events import DisplayEvent
from amplifier_agent.core.messages import Message, ToolCall, ToolSpec, UserMessage
from amplifier_agent.core.observe import NO_OBSERVER, TurnObserver
from amplifier_agent.core.usage import Usage
from amplifier_agent.engine.providers import ProviderPool
from amplifier_agent.engine.store_writer import StoreWriter
from amplifier_agent.engine.turn_statics import TurnStatics
from amplifier_agent.engine.usable import ProviderRef
from amplifier_agent.store.ledger import LedgerStatus
from amplifier_agent.store.protocol import StoreBackend, StoredSession

Face = Literal["cli", "http", "dispatch"]


@dataclass(frozen=True, slots=True)
class TurnPolicy:
    """The rules one face runs its turns under.

    `approval` is the mode the face decided (the CLI's flags and terminal), or None to follow
    host_config `approval.mode`. A `prompt` mode (decided or configured) asks `asker`; with
    nobody to ask it becomes `unattended`, as does an unset mode. `client_held` faces receive the
    conversation from their client on every request (the history to reconcile with the stored
    one, and tools the client runs itself) instead of reading it from an opened session.
    """

    face: Face
    approval: str | None = None
    asker: Asker | None = None
    unattended: ApprovalMode = "no"
    log_approvals: bool = False
    client_held: bool = False

    def approval_policy(self, config: HostConfig) -> ApprovalPolicy:
        mode = self.approval if self.approval is not None else config.approval.mode
        chosen: ApprovalMode = self.unattended
        if mode in ("yes", "no"):
            chosen = "yes" if mode == "yes" else "no"
        elif mode == "prompt" and self.asker is not None:
            chosen = "prompt"
        return ApprovalPolicy.build(
            chosen, config.approval.patterns, asker=self.asker, log_approvals=self.log_approvals
        )


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """The provider a turn runs on, and the upstream model id; None lets routing pick the
    provider's root model (its configured default)."""

    provider: ProviderRef
    model: str | None = None

    @property
    def provider_id(self) -> str:
        return self.provider.provider_id


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A session opened (resumed or started) by `EngineService.open_session`, and the tool
    directory its turns run in."""

    session: StoredSession
    cwd: Path
    resumed: bool = False

    @property
    def session_id(self) -> str:
        return self.session.session_id

    def next_turn_id(self) -> str:
        return self.session.next_turn_id()


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """One turn as a face asks for it.

    `model` is what the face resolved (`EngineService.resolve` or `active_model`); a served
    model id is resolved here, and None means the configured provider. A turn continues either
    an opened `session`, or (for a client-held face) the client's `session_id`, whose history
    the client sends along. `turn_id` is the host's own id; by default the session's next.
    """

    request_id: str
    prompt: UserMessage | None = None
    model: ResolvedModel | str | None = None
    session: OpenedSession | None = None
    session_id: str | None = None
    turn_id: str | None = None
    history: tuple[Message, ...] = ()
    containment: UserMessage | None = None
    host_tools: tuple[ToolSpec, ...] = ()
    options: CallOptions = field(default_factory=CallOptions)
    #: The face's watcher of model and tool calls (the HTTP face's metrics and overhead clock).
    observer: TurnObserver | None = None
    #: The W3C `traceparent` / `tracestate` the face received, for the turn's span.
    traceparent: str | None = None
    tracestate: str | None = None


@dataclass
class TurnControl:
    """Set by a face before it cancels a turn, so the turn is recorded with the right status."""

    cancel_status: LedgerStatus = "cancelled"


@dataclass(frozen=True, slots=True)
class TurnSetup:
    """A turn fully resolved by the engine service: everything the loop and the record need."""

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
    #: What the session's earlier turns cost (None: not all priced), read when it was prepared.
    session_cost_base: Decimal | None = Decimal(0)
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
    #: Watches the turn's model and tool calls (the HTTP face's metrics and overhead clock).
    observer: TurnObserver | None = None
    #: The W3C `traceparent` / `tracestate` the face received, for the turn's span.
    traceparent: str | None = None
    tracestate: str | None = None
    #: Where the session lives and the turn's ledger line goes; without one, the files.
    store: StoreBackend | None = None


@dataclass(frozen=True, slots=True)
class TurnReport:
    """How a turn ended: what every face renders (a reply, an envelope, a response body)."""

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
    observer: TurnObserver = NO_OBSERVER

    def duration_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)
