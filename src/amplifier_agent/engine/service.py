"""The engine service: one per process, the only thing a face runs turns through.

It holds what outlives a turn (the provider clients, the open sessions and, in a long-lived
server, the served-models registry, the derived skills and prompt, and the store's writer
thread); a face asks it to `open_session`, to `resolve` a model, and to `run_turn` under its
`TurnPolicy`, and renders the events and the `TurnReport` it gets back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from amplifier_agent.agent.approval import ApprovalPolicy
from amplifier_agent.agent.routing import UsableProvider
from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.events import DisplayEvent
from amplifier_agent.core.messages import ToolSpec
from amplifier_agent.engine import client_sessions
from amplifier_agent.engine.client_sessions import PreparedSession, SessionLocks
from amplifier_agent.engine.open_sessions import OpenSessions, SessionBusy, SessionMode
from amplifier_agent.engine.providers import (
    PoolEntry,
    ProviderPool,
    resolve_provider_settings,
    select_provider_module,
)
from amplifier_agent.engine.store_select import default_store
from amplifier_agent.engine.store_writer import StoreWriter, offload, offload_last
from amplifier_agent.engine.turn import execute_turn, pool_entries
from amplifier_agent.engine.turn_record import record_unstarted
from amplifier_agent.engine.turn_statics import ServerStatics
from amplifier_agent.engine.turn_types import (
    OpenedSession,
    ResolvedModel,
    TurnControl,
    TurnPolicy,
    TurnReport,
    TurnRequest,
    TurnSetup,
)
from amplifier_agent.engine.usable import ProviderRef
from amplifier_agent.store.ids import HTTP_SESSION_PREFIX
from amplifier_agent.store.protocol import StoreBackend

if TYPE_CHECKING:
    # Only a server has these; a one-turn `run` never imports its start-up or the registry.
    from amplifier_agent.core.registry import RegistryEntry
    from amplifier_agent.engine.server_setup import LoadedProviders

#: The HTTP face: the client holds the conversation, and nobody can be asked to approve a call,
#: so an unset or `prompt` mode approves (each approval is logged).
HTTP_POLICY = TurnPolicy("http", unattended="yes", log_approvals=True, client_held=True)
#: In-process dispatch and `serve stdio`: protocol 0.3.0 has no approval request, so an unset
#: or `prompt` mode denies.
DISPATCH_POLICY = TurnPolicy("dispatch")


class EngineService:
    """Built once per process from host_config. `loaded` (the server's start-up) makes it
    long-lived: turns use the served-models registry and its provider clients, keep derived
    statics across requests and write the store off the event loop. Without it, provider
    clients are built on first use and kept until `aclose`."""

    def __init__(
        self,
        host_config: HostConfig,
        loaded: LoadedProviders | None = None,
        workspace: str = "",
        cwd: Path | None = None,
        *,
        mcp_fallback_path: str | None = None,
        store: StoreBackend | None = None,
    ) -> None:
        self.loaded = loaded
        #: Sessions and the ledger (the files by default). Whoever opened it closes it; a store
        #: shared with other processes also holds each session's lock for the length of a turn.
        self.store = store or default_store()
        self.sessions = OpenSessions()
        self.statics: ServerStatics | None = None
        self.writer: StoreWriter | None = None
        self._locks = SessionLocks()
        self._pool: tuple[dict[str, PoolEntry], ProviderPool] | None = None
        self._retired: list[ProviderPool] = []
        self._usable: dict[str, tuple[UsableProvider, ...]] = {}
        self.configure(
            host_config, workspace, cwd or Path.cwd(), mcp_fallback_path=mcp_fallback_path
        )
        if loaded is not None:
            self.statics = ServerStatics(host_config, self.cwd)
            self.statics.warm()
            self.writer = StoreWriter()

    def configure(
        self, host_config: HostConfig, workspace: str, cwd: Path, *, mcp_fallback_path: str | None
    ) -> None:
        """New settings for later turns (a repeated `initialize`); open sessions stay."""
        self.host_config, self.workspace, self.cwd = host_config, workspace, cwd
        self.mcp_fallback_path = mcp_fallback_path
        self._approvals: dict[TurnPolicy, ApprovalPolicy] = {}
        self._config_host_tools = {
            t.name: ToolSpec(
                t.name,
                t.description or "",
                dict(t.parameters) if t.parameters else {"type": "object", "properties": {}},
            )
            for t in host_config.host_tools
        }

    # -- models ---------------------------------------------------------------------------

    @property
    def registry_entries(self) -> tuple[RegistryEntry, ...]:
        return self._loaded().registry.entries()

    def providers_summary(self) -> dict[str, int]:
        return self._loaded().registry.providers_summary()

    def resolve(self, requested: str) -> ResolvedModel:
        """Which served provider runs `requested`, as what upstream id (or a registry error)."""
        resolution = self._loaded().registry.resolve(requested)
        entry = next(e for e in self.host_config.providers or () if e.id == resolution.provider_id)
        return ResolvedModel(
            ProviderRef(entry.id, entry.module, entry.config), resolution.upstream_model
        )

    def active_model(self, module: str | None = None) -> ResolvedModel:
        """The configured provider (`module`, else selected like `run` does), whose credential
        must resolve; routing picks its model."""
        choice = self.host_config.provider
        module = module or select_provider_module(self.host_config)
        resolve_provider_settings(module, module, choice.config)
        return ResolvedModel(ProviderRef(module, module, choice.config))

    def _loaded(self) -> LoadedProviders:
        if self.loaded is None:
            raise AmplifierError("no served models: this engine loaded no providers")
        return self.loaded

    # -- sessions -------------------------------------------------------------------------

    def open_session(
        self, session_id: str | None, mode: SessionMode = "auto", cwd: Path | None = None
    ) -> OpenedSession:
        """Resume or start `session_id` (see `SessionMode`) in this workspace, its turns running
        in `cwd` (default: the service's)."""
        return self.sessions.open(
            self.store.sessions(self.workspace), session_id, mode, cwd or self.cwd
        )

    def session(self, session_id: str) -> OpenedSession:
        """The open session `session_id`; an unknown or ended one is an error."""
        return self.sessions.live(session_id)

    def end_session(self, session_id: str) -> None:
        """Later use of the id is `stale_session`; an unknown id is `session_not_found`."""
        self.sessions.end(session_id)

    # -- turns ----------------------------------------------------------------------------

    async def run_turn(
        self,
        request: TurnRequest,
        emit: Callable[[DisplayEvent], None],
        policy: TurnPolicy,
        control: TurnControl | None = None,
    ) -> TurnReport:
        """Run one turn to its end (see `execute_turn`). What stops it from starting (an unknown
        model, a busy session, an unreadable transcript) raises before any event."""
        model = self._model_for(request.model)
        if not policy.client_held:
            opened = request.session
            async with self._shared_lock(opened.session_id if opened else None):
                setup = self._stored_session_setup(request, policy, model, control)
                return await execute_turn(setup, emit)
        stored_id = None if request.session_id is None else HTTP_SESSION_PREFIX + request.session_id
        async with self._locks.hold(request.session_id), self._shared_lock(stored_id):
            client = await self._client_session(request)
            report = await execute_turn(self._setup(request, policy, model, control, client), emit)
            if client.session is not None and client.diverged and report.error is None:
                await offload_last(self.writer, client.session.set_last_turn, "client_reconciled")
            return report

    async def chat_turn(
        self,
        request: TurnRequest,
        emit: Callable[[DisplayEvent], None],
        control: TurnControl | None = None,
    ) -> TurnReport:
        """A turn of the HTTP face."""
        return await self.run_turn(request, emit, HTTP_POLICY, control)

    @asynccontextmanager
    async def _shared_lock(self, session_id: str | None) -> AsyncIterator[None]:
        """The session's lock in a store other processes share, held until the turn's record
        is committed; busy elsewhere is `session_busy`. A server takes and releases it on its
        writer thread, in order with the writes."""
        if session_id is None or not self.store.shared:
            yield
            return
        lease = await offload(self.writer, self.store.try_lock, self.workspace, session_id)
        if lease is None:
            raise SessionBusy(f"session '{session_id}' is busy in another process")
        try:
            yield
        finally:
            await offload_last(self.writer, lease.release)

    def _model_for(self, model: ResolvedModel | str | None) -> ResolvedModel:
        if isinstance(model, ResolvedModel):
            return model
        return self.active_model() if model is None else self.resolve(model)

    async def _client_session(self, request: TurnRequest) -> PreparedSession:
        if request.session_id is None:
            return client_sessions.without_session(request.history)
        return await offload(
            self.writer,
            client_sessions.prepare,
            self.store.sessions(self.workspace),
            request.session_id,
            self.cwd,
            request.history,
        )

    def _stored_session_setup(
        self,
        request: TurnRequest,
        policy: TurnPolicy,
        model: ResolvedModel,
        control: TurnControl | None,
    ) -> TurnSetup:
        opened = request.session
        if opened is None:
            prepared = PreparedSession(None, [], False, request.turn_id or "turn-1")
        else:
            history, _ = opened.session.load_repaired()
            prepared = client_sessions.prepared_from(
                opened.session, history, False, request.turn_id
            )
        return self._setup(request, policy, model, control, prepared, opened)

    def _setup(
        self,
        request: TurnRequest,
        policy: TurnPolicy,
        model: ResolvedModel,
        control: TurnControl | None,
        prepared: PreparedSession,
        opened: OpenedSession | None = None,
    ) -> TurnSetup:
        session = prepared.session
        containment = (request.containment,) if request.containment else ()
        return TurnSetup(
            face=policy.face,
            cwd=opened.cwd if opened else self.cwd,
            workspace=session.workspace if session else self.workspace,
            turn_id=prepared.turn_id,
            request_id=request.request_id,
            host_config=self.host_config,
            active=model.provider,
            approval=self._approval(policy),
            new_messages=(request.prompt,) if request.prompt else (),
            history=containment + tuple(prepared.history),
            session=session,
            session_cost_base=prepared.cost_base,
            model=model.model,
            host_tools=self._host_tools(request.host_tools) if policy.client_held else (),
            options=request.options,
            mcp_fallback_path=self.mcp_fallback_path,
            pool=self._pool_for(model.provider),
            control=control,
            usable=self._usable_for(model.provider.provider_id),
            statics=self.statics,
            writer=self.writer,
            observer=request.observer,
            traceparent=request.traceparent,
            tracestate=request.tracestate,
            store=self.store,
        )

    def _approval(self, policy: TurnPolicy) -> ApprovalPolicy:
        approval = self._approvals.get(policy)
        if approval is None:
            approval = self._approvals[policy] = policy.approval_policy(self.host_config)
        return approval

    def _host_tools(self, requested: tuple[ToolSpec, ...]) -> tuple[ToolSpec, ...]:
        """`host_config.host_tools` merged with the request's tools; the request wins a clash."""
        if not requested:
            return tuple(self._config_host_tools.values())
        merged = dict(self._config_host_tools)
        merged.update((t.name, t) for t in requested)
        return tuple(merged.values())

    def _usable_for(self, active_id: str) -> tuple[UsableProvider, ...] | None:
        """A server's providers in routing order, from its start-up listings; elsewhere the
        turn finds out which providers can list their models."""
        if self.loaded is None:
            return None
        usable = self._usable.get(active_id)
        if usable is None:
            listings = self.loaded.listings
            entries = {e.id: e for e in self.host_config.providers or ()}
            order = [active_id, *(pid for pid in listings if pid != active_id)]
            usable = tuple(UsableProvider(pid, entries[pid].module, listings[pid]) for pid in order)
            self._usable[active_id] = usable
        return usable

    def _pool_for(self, active: ProviderRef) -> ProviderPool:
        """The server's pool; elsewhere one kept for as long as the configuration stays the
        same (building a client costs more than a fast turn). A replaced pool is closed at
        `aclose`, once no turn can still be using it."""
        if self.loaded is not None:
            return self.loaded.pool
        entries = pool_entries(self.host_config, active)
        if self._pool is not None and self._pool[0] == entries:
            return self._pool[1]
        if self._pool is not None:
            self._retired.append(self._pool[1])
        self._pool = (entries, ProviderPool(entries))
        return self._pool[1]

    def unstarted_turn(
        self, request: TurnRequest, policy: TurnPolicy, provider: str, error: AmplifierError
    ) -> TurnReport:
        """The report of a turn that failed before it could start, with its ledger line."""
        session_id = request.session.session_id if request.session else (request.session_id or "")
        turn_id = "turn-1" if request.turn_id is None else request.turn_id
        ids = (self.workspace, session_id, turn_id, request.request_id)
        return record_unstarted(policy.face, *ids, provider=provider, error=error, store=self.store)

    async def aclose(self) -> None:
        """Close every provider client and, in a server, finish the store's pending writes."""
        pools = [*self._retired, *([self._pool[1]] if self._pool else [])]
        if self.loaded is not None:
            pools.append(self.loaded.pool)
        self._pool, self._retired = None, []
        for pool in pools:
            await pool.aclose()
        if self.writer is not None:
            self.writer.close()


__all__ = ["DISPATCH_POLICY", "HTTP_POLICY", "EngineService"]
