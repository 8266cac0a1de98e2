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
from amplifier_agent.config.paths import layout
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.events import DisplayEvent
from amplifier_agent.core.messages import Message, ToolSpec, UserMessage
from amplifier_agent.core.registry import RegistryEntry, Resolution
from amplifier_agent.engine.server_setup import LoadedProviders
from amplifier_agent.engine.turn import TurnControl, TurnReport, TurnSetup, execute_turn
from amplifier_agent.engine.usable import ProviderRef
from amplifier_agent.store.ids import HTTP_SESSION_PREFIX
from amplifier_agent.store.reconcile import reconcile
from amplifier_agent.store.repair import repair
from amplifier_agent.store.sessions import Session, SessionStore

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


@dataclass
class ServerEngine:
    host_config: HostConfig
    loaded: LoadedProviders
    workspace: str
    cwd: Path
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    @property
    def registry_entries(self) -> tuple[RegistryEntry, ...]:
        return self.loaded.registry.entries()

    def providers_summary(self) -> dict[str, int]:
        return self.loaded.registry.providers_summary()

    def resolve(self, requested: str) -> Resolution:
        """Which provider serves `requested`, and as what upstream id (or a registry error)."""
        return self.loaded.registry.resolve(requested)

    def approval(self) -> ApprovalPolicy:
        mode: ApprovalMode = "no" if self.host_config.approval.mode == "no" else "yes"
        return ApprovalPolicy.build(mode, self.host_config.approval.patterns, log_approvals=True)

    def host_tools(self, requested: tuple[ToolSpec, ...]) -> tuple[ToolSpec, ...]:
        """`host_config.host_tools` merged with the request's tools; the request wins a clash."""
        merged = {
            t.name: ToolSpec(
                t.name,
                t.description or "",
                dict(t.parameters) if t.parameters else {"type": "object", "properties": {}},
            )
            for t in self.host_config.host_tools
        }
        merged.update((t.name, t) for t in requested)
        return tuple(merged.values())

    def usable(self, active_id: str) -> tuple[UsableProvider, ...]:
        entries = {e.id: e for e in self.host_config.providers or ()}
        order = [active_id, *(pid for pid in self.loaded.listings if pid != active_id)]
        return tuple(
            UsableProvider(pid, entries[pid].module, self.loaded.listings[pid]) for pid in order
        )

    async def chat_turn(
        self,
        turn: ChatTurn,
        emit: Callable[[DisplayEvent], None],
        control: TurnControl | None = None,
    ) -> TurnReport:
        resolution = self.resolve(turn.model)
        entry = next(e for e in self.host_config.providers or () if e.id == resolution.provider_id)
        async with self._session_lock(turn.session_id):
            session, history, diverged = self._prepare_history(turn)
            setup = TurnSetup(
                face="http",
                cwd=self.cwd,
                workspace=self.workspace,
                turn_id=session.next_turn_id() if session else "turn-1",
                request_id=turn.request_id,
                host_config=self.host_config,
                active=ProviderRef(entry.id, entry.module, entry.config),
                approval=self.approval(),
                new_messages=(turn.prompt,) if turn.prompt else (),
                history=((turn.containment,) if turn.containment else ()) + tuple(history),
                session=session,
                model=resolution.upstream_model,
                host_tools=self.host_tools(turn.host_tools),
                options=turn.options,
                pool=self.loaded.pool,
                control=control,
                usable=self.usable(entry.id),
            )
            report = await execute_turn(setup, emit)
            if session is not None and diverged and report.error is None:
                session.set_last_turn("client_reconciled")
            return report

    def _prepare_history(self, turn: ChatTurn) -> tuple[Session | None, list[Message], bool]:
        """Without a session the client history is used alone; with one, the client's view wins
        and what it adds is stored before the model is called."""
        if turn.session_id is None:
            history, _ = repair(turn.history)
            return None, history, False
        store = SessionStore(layout().workspaces_dir, self.workspace)
        session_id = HTTP_SESSION_PREFIX + turn.session_id
        session = store.find(session_id) or store.create(session_id, str(self.cwd))
        stored = session.load() if session.transcript_path.exists() else []
        merged = reconcile(stored, turn.history)
        history, report = repair(merged.history)
        if merged.diverged or report.changed:
            session.rewrite(history)
        elif merged.appended:
            session.append(merged.appended)
        return session, history, merged.diverged

    @asynccontextmanager
    async def _session_lock(self, session_id: str | None) -> AsyncIterator[None]:
        if session_id is None:
            yield
            return
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        if lock.locked():
            raise SessionBusy(f"session '{session_id}' is busy with another request")
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._locks.get(session_id) is lock:
                del self._locks[session_id]

    async def aclose(self) -> None:
        await self.loaded.pool.aclose()
