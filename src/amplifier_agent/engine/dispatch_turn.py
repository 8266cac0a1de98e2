"""The dispatch faces' view of the engine: the sessions one `Engine` owns (create, resume, end),
one turn per `turn/submit` (one at a time per session, cancellable), and the settings `initialize`
chose (SPEC §10.3).

Dispatch turns use the host_config approval mode with `prompt` counting as `no`: no wire approval
exists in protocol 0.3.0, and nobody could be asked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amplifier_agent.agent.approval import ApprovalPolicy
from amplifier_agent.config.host_config import HostConfig, ProviderChoice, parse_host_config
from amplifier_agent.config.paths import layout, resolve_workspace
from amplifier_agent.core.errors import AmplifierError, ConfigError, SessionError
from amplifier_agent.core.events import DisplayEvent, ErrorReported
from amplifier_agent.core.messages import UserMessage
from amplifier_agent.core.usage import Usage
from amplifier_agent.engine.cli_turn import select_provider_module
from amplifier_agent.engine.model_cache import cache_info
from amplifier_agent.engine.providers import PoolEntry, ProviderPool, resolve_provider_settings
from amplifier_agent.engine.server_engine import SessionBusy
from amplifier_agent.engine.store_select import open_configured_store
from amplifier_agent.engine.turn import (
    TurnControl,
    TurnReport,
    TurnSetup,
    execute_turn,
    pool_entries,
)
from amplifier_agent.engine.usable import ProviderRef
from amplifier_agent.store.ids import validate_session_id
from amplifier_agent.store.ledger import LedgerStatus
from amplifier_agent.store.protocol import Sessions, StoreBackend, StoredSession

MINTED_PREFIX = "sess-"

log = logging.getLogger(__name__)


def mint_session_id() -> str:
    """`sess-<12 hex>`."""
    return MINTED_PREFIX + secrets.token_hex(6)


@dataclass(frozen=True, slots=True)
class DispatchOptions:
    """What `initialize` decided for every later turn: the tool cwd, the workspace holding new
    sessions, the provider (`providerOverride` or host_config `provider`) and the MCP fallback."""

    cwd: Path
    workspace: str
    provider: ProviderChoice
    mcp_config_path: str | None = None


@dataclass(frozen=True, slots=True)
class OpenedSession:
    session_id: str
    resumed: bool


@dataclass(frozen=True, slots=True)
class DispatchTurn:
    session_id: str
    turn_id: str
    prompt: str
    attachments: tuple[Mapping[str, Any], ...] = ()


def dispatch_options(
    host_config: HostConfig,
    *,
    cwd: str | None = None,
    provider_override: Mapping[str, Any] | None = None,
    mcp_config_path: str | None = None,
    default_cwd: Path | None = None,
    workspace: str | None = None,
) -> DispatchOptions:
    """Validate `initialize`'s optional params; a bad value is a `config_validation` error.

    `workspace` is the process's `--workspace`; without it the workspace comes from the
    environment or the tool directory, as for `run`."""
    directory = _directory(cwd if cwd is not None else str(default_cwd or Path.cwd()))
    workspace, _ = resolve_workspace(workspace, cwd=directory)
    provider = host_config.provider
    if provider_override is not None:
        provider = _provider_choice(provider_override)
    return DispatchOptions(directory, workspace, provider, _mcp_fallback(mcp_config_path))


def _mcp_fallback(path: str | None) -> str | None:
    """`initialize.mcpConfigPath` when it names a file; a missing one is a host's stale hint,
    not a reason to refuse the session, so it is dropped with a warning (no MCP servers)."""
    if path is None or Path(path).is_file():
        return path
    log.warning("mcpConfigPath %s does not exist; continuing without MCP servers", path)
    return None


def _directory(value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ConfigError(f"cwd {value!r} is not a directory", code="config_validation")
    return Path(os.path.realpath(path))


def _provider_choice(override: Mapping[str, Any]) -> ProviderChoice:
    """`providerOverride{module, config?}`, checked like host_config `provider` (whose schema
    also drops `config.api_key`), except that `module` is required."""
    if "module" not in override:
        raise ConfigError("providerOverride.module is required", code="config_validation")
    try:
        return parse_host_config({"provider": dict(override)}).provider
    except ConfigError as error:
        raise ConfigError(f"providerOverride: {error.message}", code=error.code) from error


def cache_summary() -> dict[str, Any]:
    """`cache/info`: the cache root and one `{provider, fetched_at, count}` per cached list."""
    return {"root": str(layout().models_cache_dir.parent), "models": cache_info()}


@dataclass(frozen=True, slots=True)
class _Live:
    session: StoredSession
    cwd: Path


@dataclass(frozen=True, slots=True, eq=False)
class _Running:
    turn_id: str
    task: asyncio.Task[TurnReport]
    control: TurnControl
    #: Set by the turn's first step: a task cancelled before it never runs, so nothing of the
    #: turn (not even its prompt) would be recorded.
    started: asyncio.Event

    async def stop(self, status: LedgerStatus) -> bool:
        """Cancel the turn, recorded with `status`, and wait until it has been persisted;
        False when it had ended on its own first."""
        self.control.cancel_status = status
        while not self.started.is_set() and not self.task.done():
            await asyncio.sleep(0)
        self.task.cancel()
        await asyncio.wait((self.task,))
        return self.task.cancelled()


class DispatchSessions:
    """The sessions of one dispatch `Engine`; ended ids stay known, so using one again is
    `stale_session`."""

    def __init__(self, host_config: HostConfig, options: DispatchOptions) -> None:
        self.host_config = host_config
        self.options = options
        #: Chosen by environment or host_config when the engine starts; kept across turns.
        self.store: StoreBackend = open_configured_store(None, host_config)
        self._live: dict[str, _Live] = {}
        self._ended: set[str] = set()
        #: The turn each session runs now, by session id (one at a time).
        self._running: dict[str, _Running] = {}
        self._closed = False
        #: Provider clients kept across turns (building one costs more than a fast turn), and
        #: the entries they were built from; pools replaced by a new configuration are closed
        #: at shutdown, once no turn can still be using them.
        self._pool: tuple[dict[str, PoolEntry], ProviderPool] | None = None
        self._retired: list[ProviderPool] = []

    def configure(self, host_config: HostConfig, options: DispatchOptions) -> None:
        """A repeated `initialize`: later turns use the new settings; sessions stay."""
        self.host_config, self.options = host_config, options

    def _store(self) -> Sessions:
        return self.store.sessions(self.options.workspace)

    def open(self, session_id: str | None, *, resume: bool) -> OpenedSession:
        """`initialize`'s session: resumed when a transcript exists anywhere (required with
        `resume`), else started in the current workspace; without an id one is minted."""
        if session_id is None:
            return OpenedSession(self.create(None, None), resumed=False)
        self._check_not_ended(validate_session_id(session_id))
        store = self._store()
        found = store.find(session_id)
        if found is None and resume:
            raise SessionError(
                f"no session {session_id!r} in any workspace", code="session_not_found"
            )
        session = found or store.create(session_id, str(self.options.cwd))
        self._live.setdefault(session_id, _Live(session, self.options.cwd))
        return OpenedSession(session_id, resumed=found is not None)

    def create(self, session_id: str | None, cwd: str | None) -> str:
        """`session/create`: a new session; a malformed or existing id is `invalid_session`."""
        directory = _directory(cwd) if cwd is not None else self.options.cwd
        store = self._store()
        if session_id is None:
            session_id = mint_session_id()
        validate_session_id(session_id)
        known = session_id in self._live or session_id in self._ended
        if known or store.occupied(session_id) or store.find(session_id):
            raise SessionError(f"session {session_id!r} already exists", code="invalid_session")
        self._live[session_id] = _Live(store.create(session_id, str(directory)), directory)
        return session_id

    def end(self, session_id: str) -> None:
        """`session/end`: later use of the id is `stale_session`; an unknown id is
        `session_not_found`."""
        self._check_not_ended(session_id)
        if self._live.pop(session_id, None) is None:
            raise SessionError(f"no open session {session_id!r}", code="session_not_found")
        self._ended.add(session_id)

    def _check_not_ended(self, session_id: str) -> None:
        if session_id in self._ended:
            raise SessionError(f"session {session_id!r} has ended", code="stale_session")

    def _check_open(self, session_id: str) -> None:
        if self._closed:
            raise AmplifierError("the agent has shut down", code="agent_not_ready")
        self._check_not_ended(session_id)
        if session_id not in self._live:
            raise SessionError(f"no open session {session_id!r}", code="session_not_found")

    async def run_turn(
        self, turn: DispatchTurn, emit: Callable[[DisplayEvent], None]
    ) -> TurnReport:
        """One turn, ending with exactly one `result/final` or one unrecoverable `error` event.

        Request errors (unknown or ended session, a session already running a turn
        (`session_busy`), empty prompt) raise before anything is emitted; a turn cut short by
        `shutdown` raises `agent_not_ready`, one stopped by `cancel` raises `cancelled`.
        """
        self._check_open(turn.session_id)
        if turn.session_id in self._running:
            raise SessionBusy(f"session '{turn.session_id}' is busy with another turn")
        live = self._live[turn.session_id]
        content = prompt_with_attachments(turn.prompt, turn.attachments)
        # Another process sharing the store may run this session right now.
        lease = self.store.try_lock(live.session.workspace, turn.session_id)
        if lease is None:
            raise SessionBusy(f"session '{turn.session_id}' is busy in another process")
        control, started = TurnControl(), asyncio.Event()
        task = asyncio.ensure_future(self._turn(live, turn, content, control, started, emit))
        self._running[turn.session_id] = _Running(turn.turn_id, task, control, started)
        task.add_done_callback(lambda _: lease.release())
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            raise _stopped(control.cancel_status) from None
        finally:
            del self._running[turn.session_id]

    async def cancel(self, session_id: str, turn_id: str | None) -> str | None:
        """`turn/cancel`: stop the session's running turn (only if it is `turn_id`, when given)
        and return its id once it is recorded as cancelled; None when no such turn runs.

        A turn still running in a session ended meanwhile can be cancelled too."""
        if self._closed:
            raise AmplifierError("the agent has shut down", code="agent_not_ready")
        running = self._running.get(session_id)
        if running is None:
            self._check_open(session_id)
        if running is None or turn_id not in (None, running.turn_id):
            return None
        return running.turn_id if await running.stop("cancelled") else None

    async def _turn(
        self,
        live: _Live,
        turn: DispatchTurn,
        content: str,
        control: TurnControl,
        started: asyncio.Event,
        emit: Callable[[DisplayEvent], None],
    ) -> TurnReport:
        started.set()
        try:
            config, active = self._active_provider()
            history, _ = live.session.load_repaired()
        except AmplifierError as error:
            emit(ErrorReported(error.code, error.message, recoverable=False))
            return TurnReport(turn.session_id, turn.turn_id, "", Usage(), 0, error=error)
        setup = TurnSetup(
            face="dispatch",
            cwd=live.cwd,
            workspace=live.session.workspace,
            turn_id=turn.turn_id,
            request_id=str(uuid.uuid4()),
            host_config=config,
            active=active,
            approval=self._approval(),
            new_messages=(UserMessage(content),),
            history=tuple(history),
            session=live.session,
            mcp_fallback_path=self.options.mcp_config_path,
            control=control,
            pool=self._pool_for(config, active),
            store=self.store,
        )
        return await execute_turn(setup, emit)

    def _active_provider(self) -> tuple[HostConfig, ProviderRef]:
        """Mirror `run`: the chosen module, else auto-detection; its credential must resolve."""
        choice = self.options.provider
        config = dataclasses.replace(self.host_config, provider=choice)
        module = select_provider_module(config)
        resolve_provider_settings(module, module, choice.config)
        return config, ProviderRef(module, module, choice.config)

    def _pool_for(self, config: HostConfig, active: ProviderRef) -> ProviderPool:
        entries = pool_entries(config, active)
        if self._pool is not None and self._pool[0] == entries:
            return self._pool[1]
        if self._pool is not None:
            self._retired.append(self._pool[1])
        self._pool = (entries, ProviderPool(entries))
        return self._pool[1]

    def _approval(self) -> ApprovalPolicy:
        approval = self.host_config.approval
        return ApprovalPolicy.build("yes" if approval.mode == "yes" else "no", approval.patterns)

    async def shutdown(self) -> None:
        """Cancel running turns (recorded as `shutdown`) and end every session."""
        self._closed = True
        running = list(self._running.values())
        await asyncio.gather(*(entry.stop("shutdown") for entry in running))
        self._ended.update(self._live)
        self._live.clear()
        pools = [*self._retired, *([self._pool[1]] if self._pool else [])]
        self._pool, self._retired = None, []
        for pool in pools:
            await pool.aclose()
        self.store.close()


def _stopped(status: LedgerStatus) -> AmplifierError:
    if status == "cancelled":
        return AmplifierError("the turn was cancelled", code="cancelled")
    return AmplifierError("the agent shut down during the turn", code="agent_not_ready")


def prompt_with_attachments(prompt: str, attachments: Sequence[Mapping[str, Any]]) -> str:
    """The user message text: the prompt, then each text attachment in a tagged block.

    A blank prompt is `prompt_required`; an attachment other than `{type:"text", text, name?}`
    is a `config_validation` error, never silently dropped.
    """
    if not prompt.strip():
        raise AmplifierError("turn/submit needs a non-empty prompt", code="prompt_required")
    parts = [prompt]
    for index, attachment in enumerate(attachments):
        text, name = attachment.get("text"), attachment.get("name")
        if attachment.get("type") != "text" or not isinstance(text, str):
            raise ConfigError(
                f"attachments[{index}] must be {{type:'text', text, name?}}",
                code="config_validation",
            )
        if name is not None and not isinstance(name, str):
            raise ConfigError(
                f"attachments[{index}].name must be a string", code="config_validation"
            )
        label = f" name={json.dumps(name)}" if name else ""  # quotes in a name stay escaped
        parts.append(f"<attachment{label}>\n{text}\n</attachment>")
    return "\n\n".join(parts)


__all__ = [
    "DispatchOptions",
    "DispatchSessions",
    "DispatchTurn",
    "OpenedSession",
    "cache_summary",
    "dispatch_options",
    "mint_session_id",
    "prompt_with_attachments",
]
