"""The dispatch faces' view of the engine service: the settings `initialize` chose, the sessions
it and `session/create` open, and one turn per `turn/submit` (one at a time per session,
cancellable) (SPEC §10.3).

Dispatch turns use the host_config approval mode with `prompt` counting as `no`: no wire approval
exists in protocol 0.3.0, and nobody could be asked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amplifier_agent.config.host_config import HostConfig, ProviderChoice, parse_host_config
from amplifier_agent.config.paths import layout, resolve_workspace
from amplifier_agent.core.errors import AmplifierError, ConfigError
from amplifier_agent.core.events import DisplayEvent, ErrorReported
from amplifier_agent.core.messages import UserMessage
from amplifier_agent.core.usage import Usage
from amplifier_agent.engine.model_cache import cache_info
from amplifier_agent.engine.open_sessions import SessionBusy
from amplifier_agent.engine.service import DISPATCH_POLICY, EngineService
from amplifier_agent.engine.store_select import open_configured_store
from amplifier_agent.engine.turn_types import OpenedSession, TurnControl, TurnReport, TurnRequest
from amplifier_agent.store.ledger import LedgerStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DispatchOptions:
    """What `initialize` decided for every later turn: the tool cwd, the workspace holding new
    sessions, the provider (`providerOverride` or host_config `provider`) and the MCP fallback."""

    cwd: Path
    workspace: str
    provider: ProviderChoice
    mcp_config_path: str | None = None


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
    """The dispatch faces' sessions and turns over one engine service: sessions opened by
    `initialize` and `session/create`, one cancellable turn at a time per session."""

    def __init__(self, host_config: HostConfig, options: DispatchOptions) -> None:
        #: Chosen by the environment or host_config when the engine starts, kept across turns.
        self.store = open_configured_store(None, host_config)
        self.service = EngineService(host_config, store=self.store)
        self.configure(host_config, options)
        #: The turn each session runs now, by session id (one at a time).
        self._running: dict[str, _Running] = {}

    def configure(self, host_config: HostConfig, options: DispatchOptions) -> None:
        """A repeated `initialize`: later turns use the new settings; sessions stay."""
        self.host_config, self.options = host_config, options
        self.service.configure(
            dataclasses.replace(host_config, provider=options.provider),
            options.workspace,
            options.cwd,
            mcp_fallback_path=options.mcp_config_path,
        )

    def open(self, session_id: str | None, *, resume: bool) -> OpenedSession:
        """`initialize`'s session: resumed when a transcript exists anywhere (required with
        `resume`), else started in the current workspace; without an id one is minted."""
        return self.service.open_session(session_id, "resume" if resume else "auto")

    def create(self, session_id: str | None, cwd: str | None) -> str:
        """`session/create`: a new session; a malformed or existing id is `invalid_session`."""
        directory = _directory(cwd) if cwd is not None else None
        return self.service.open_session(session_id, "new", directory).session_id

    def end(self, session_id: str) -> None:
        """`session/end`: later use of the id is `stale_session`; an unknown id is
        `session_not_found`."""
        self.service.end_session(session_id)

    async def run_turn(
        self,
        session_id: str,
        turn_id: str,
        prompt: str,
        attachments: Sequence[Mapping[str, Any]],
        emit: Callable[[DisplayEvent], None],
    ) -> TurnReport:
        """One turn, ending with exactly one `result/final` or one unrecoverable `error` event.

        Request errors (unknown or ended session, a session already running a turn
        (`session_busy`), empty prompt) raise before anything is emitted; a turn cut short by
        `shutdown` raises `agent_not_ready`, one stopped by `cancel` raises `cancelled`.
        """
        opened = self.service.session(session_id)
        if session_id in self._running:
            raise SessionBusy(f"session '{session_id}' is busy with another turn")
        request = TurnRequest(
            request_id=str(uuid.uuid4()),
            prompt=UserMessage(prompt_with_attachments(prompt, attachments)),
            session=opened,
            turn_id=turn_id,
        )
        control, started = TurnControl(), asyncio.Event()
        task = asyncio.ensure_future(self._turn(request, control, started, emit))
        self._running[session_id] = _Running(turn_id, task, control, started)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            raise _stopped(control.cancel_status) from None
        finally:
            del self._running[session_id]

    async def cancel(self, session_id: str, turn_id: str | None) -> str | None:
        """`turn/cancel`: stop the session's running turn (only if it is `turn_id`, when given)
        and return its id once it is recorded as cancelled; None when no such turn runs.

        A turn still running in a session ended meanwhile can be cancelled too."""
        if self.service.sessions.closed:
            raise AmplifierError("the agent has shut down", code="agent_not_ready")
        running = self._running.get(session_id)
        if running is None:
            self.service.session(session_id)
        if running is None or turn_id not in (None, running.turn_id):
            return None
        return running.turn_id if await running.stop("cancelled") else None

    async def _turn(
        self,
        request: TurnRequest,
        control: TurnControl,
        started: asyncio.Event,
        emit: Callable[[DisplayEvent], None],
    ) -> TurnReport:
        started.set()
        try:
            request = dataclasses.replace(request, model=self.service.active_model())
            return await self.service.run_turn(request, emit, DISPATCH_POLICY, control)
        except AmplifierError as error:
            emit(ErrorReported(error.code, error.message, recoverable=False))
            assert request.session is not None and request.turn_id is not None
            return TurnReport(
                request.session.session_id, request.turn_id, "", Usage(), 0, error=error
            )

    async def shutdown(self) -> None:
        """Cancel running turns (recorded as `shutdown`) and end every session."""
        self.service.sessions.closed = True
        running = list(self._running.values())
        await asyncio.gather(*(entry.stop("shutdown") for entry in running))
        self.service.sessions.close()
        await self.service.aclose()
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
    "cache_summary",
    "dispatch_options",
    "prompt_with_attachments",
]
