"""The HTTP face's engine: the served-models registry, long-lived providers, session locks and
reconciliation; each chat request becomes one `execute_turn`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from amplifier_agent.agent.approval import ApprovalMode, ApprovalPolicy
from amplifier_agent.agent.routing import UsableProvider
from amplifier_agent.agent.run import CallOptions
from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.events import DisplayEvent
from amplifier_agent.core.messages import Message, ToolSpec, UserMessage
from amplifier_agent.core.registry import RegistryEntry, Resolution
from amplifier_agent.engine.server_setup import LoadedProviders
from amplifier_agent.engine.store_select import default_store
from amplifier_agent.engine.store_writer import StoreWriter
from amplifier_agent.engine.turn import TurnControl, TurnReport, TurnSetup, execute_turn
from amplifier_agent.engine.turn_statics import ServerStatics
from amplifier_agent.engine.usable import ProviderRef
from amplifier_agent.store.ids import HTTP_SESSION_PREFIX
from amplifier_agent.store.protocol import StoreBackend, StoredSession
from amplifier_agent.store.reconcile import reconcile
from amplifier_agent.store.repair import repair

log = logging.getLogger(__name__)


class SessionBusy(AmplifierError):
    code = "session_busy"


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One chat-completions request, already parsed and split by the HTTP face."""

    model: str
    request_id: str
    history: tuple[Message, ...]
    prompt: UserMessage | None = None
    containment: UserMessage | None = None
    session_id: str | None = None
    host_tools: tuple[ToolSpec, ...] = ()
    options: CallOptions = field(default_factory=CallOptions)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A request's session (None without one), the history its turn starts from, whether the
    client's view diverged from the stored one, and the turn's id."""

    session: StoredSession | None
    history: list[Message]
    diverged: bool
    turn_id: str


@dataclass
class ServerEngine:
    host_config: HostConfig
    loaded: LoadedProviders
    workspace: str
    cwd: Path
    #: Sessions and the ledger; a shared store also holds each session's lock across instances.
    store: StoreBackend = field(default_factory=default_store)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    #: What every request would otherwise derive again from the same config and files.
    statics: ServerStatics = field(init=False)
    _approval: ApprovalPolicy = field(init=False)
    _config_host_tools: dict[str, ToolSpec] = field(init=False)
    _usable: dict[str, tuple[UsableProvider, ...]] = field(init=False, default_factory=dict)
    writer: StoreWriter = field(init=False)

    def __post_init__(self) -> None:
        self.statics = ServerStatics(self.host_config, self.cwd)
        self.statics.warm()
        self.writer = StoreWriter()
        mode: ApprovalMode = "no" if self.host_config.approval.mode == "no" else "yes"
        patterns = self.host_config.approval.patterns
        self._approval = ApprovalPolicy.build(mode, patterns, log_approvals=True)
        self._config_host_tools = {
            t.name: ToolSpec(
                t.name,
                t.description or "",
                dict(t.parameters) if t.parameters else {"type": "object", "properties": {}},
            )
            for t in self.host_config.host_tools
        }

    @property
    def registry_entries(self) -> tuple[RegistryEntry, ...]:
        return self.loaded.registry.entries()

    def providers_summary(self) -> dict[str, int]:
        return self.loaded.registry.providers_summary()

    def resolve(self, requested: str) -> Resolution:
        """Which provider serves `requested`, and as what upstream id (or a registry error)."""
        return self.loaded.registry.resolve(requested)

    def approval(self) -> ApprovalPolicy:
        return self._approval

    def host_tools(self, requested: tuple[ToolSpec, ...]) -> tuple[ToolSpec, ...]:
        """`host_config.host_tools` merged with the request's tools; the request wins a clash."""
        if not requested:
            return tuple(self._config_host_tools.values())
        merged = dict(self._config_host_tools)
        merged.update((t.name, t) for t in requested)
        return tuple(merged.values())

    def usable(self, active_id: str) -> tuple[UsableProvider, ...]:
        usable = self._usable.get(active_id)
        if usable is None:
            entries = {e.id: e for e in self.host_config.providers or ()}
            order = [active_id, *(pid for pid in self.loaded.listings if pid != active_id)]
            usable = tuple(
                UsableProvider(pid, entries[pid].module, self.loaded.listings[pid]) for pid in order
            )
            self._usable[active_id] = usable
        return usable

    async def chat_turn(
        self,
        turn: ChatTurn,
        emit: Callable[[DisplayEvent], None],
        control: TurnControl | None = None,
    ) -> TurnReport:
        resolution = self.resolve(turn.model)
        async with self._session_lock(turn.session_id):
            if turn.session_id is None:
                history, _ = repair(turn.history)
                prepared = _Prepared(None, history, False, "turn-1")
            else:
                prepared = await self.writer.write(self._prepare_session, turn, turn.session_id)
            report = await execute_turn(self._setup(turn, resolution, prepared, control), emit)
            session = prepared.session
            if session is not None and prepared.diverged and report.error is None:
                await self.writer.write_last(session.set_last_turn, "client_reconciled")
            return report

    def _setup(
        self,
        turn: ChatTurn,
        resolution: Resolution,
        prepared: _Prepared,
        control: TurnControl | None,
    ) -> TurnSetup:
        entry = next(e for e in self.host_config.providers or () if e.id == resolution.provider_id)
        return TurnSetup(
            face="http",
            cwd=self.cwd,
            workspace=self.workspace,
            turn_id=prepared.turn_id,
            request_id=turn.request_id,
            host_config=self.host_config,
            active=ProviderRef(entry.id, entry.module, entry.config),
            approval=self.approval(),
            new_messages=(turn.prompt,) if turn.prompt else (),
            history=((turn.containment,) if turn.containment else ()) + tuple(prepared.history),
            session=prepared.session,
            model=resolution.upstream_model,
            host_tools=self.host_tools(turn.host_tools),
            options=turn.options,
            pool=self.loaded.pool,
            control=control,
            usable=self.usable(entry.id),
            statics=self.statics,
            writer=self.writer,
            store=self.store,
        )

    def _prepare_session(self, turn: ChatTurn, session_id: str) -> _Prepared:
        """The client's view of the history wins, and what it adds is stored before the model is
        called. Runs on the writer thread: it reads and writes the session's files."""
        sessions = self.store.sessions(self.workspace)
        stored_id = HTTP_SESSION_PREFIX + session_id
        session = sessions.find(stored_id) or sessions.create(stored_id, str(self.cwd))
        stored = session.load() if session.has_transcript() else []
        merged = reconcile(stored, turn.history)
        history, report = repair(merged.history)
        if merged.diverged or report.changed:
            session.rewrite(history)
        elif merged.appended:
            session.append(merged.appended)
        return _Prepared(session, history, merged.diverged, session.next_turn_id())

    @asynccontextmanager
    async def _session_lock(self, session_id: str | None) -> AsyncIterator[None]:
        if session_id is None:
            yield
            return
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        if lock.locked():
            raise SessionBusy(f"session '{session_id}' is busy with another request")
        try:
            async with lock, self._shared_lock(session_id):
                yield
        finally:
            if not lock.locked() and self._locks.get(session_id) is lock:
                del self._locks[session_id]

    @asynccontextmanager
    async def _shared_lock(self, session_id: str) -> AsyncIterator[None]:
        """The session's lock in a store other instances share, held until the turn's record
        is committed. Taken and released on the writer thread, in order with the writes."""
        if not self.store.shared:
            yield
            return
        stored_id = HTTP_SESSION_PREFIX + session_id
        lease = await self.writer.write(self.store.try_lock, self.workspace, stored_id)
        if lease is None:
            raise SessionBusy(f"session '{session_id}' is busy with another request")
        try:
            yield
        finally:
            await self.writer.write_last(lease.release)

    async def aclose(self) -> None:
        await self.loaded.pool.aclose()
        self.writer.close()
        self.store.close()
