"""`Dispatcher.dispatch(method, params)`: the protocol 0.3.0 methods in process (SPEC §10.3).

Display events become notifications through the one translator (`wire.events`) and reach the
caller's `notify` callback, filtered to the negotiated events.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from amplifier_agent import __version__, engine
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.events import DisplayEvent
from amplifier_agent.wire.events import to_notification
from amplifier_agent.wire.protocol import (
    Capabilities,
    Params,
    RpcError,
    check_protocol_version,
    engine_error,
    error_response,
    method_not_found,
    negotiate,
    parse_request,
    request_id_of,
    result_response,
)

log = logging.getLogger(__name__)

#: Receives each negotiated notification `{"jsonrpc":"2.0","method","params"}`.
Notify = Callable[[dict[str, Any]], None]
_Handler = Callable[[Params], Awaitable[dict[str, Any]]]

SERVER_NAME = "amplifier-agent"


class Dispatcher:
    """One in-process agent: `initialize` first, then sessions and turns, `agent/shutdown` last.

    `host_config` is the validated configuration; without one it is loaded like `run` does
    (`$AMPLIFIER_AGENT_CONFIG`, else none) at `initialize`. `cwd` is the default tool directory
    when `initialize` names none (default: the process's working directory); `workspace` the
    workspace new sessions go to (default: as for `run`, from the environment or the cwd).
    """

    def __init__(
        self,
        host_config: engine.HostConfig | None = None,
        *,
        notify: Notify | None = None,
        cwd: str | Path | None = None,
        workspace: str | None = None,
    ) -> None:
        self._host_config = host_config
        self._notify = notify
        self._default_cwd = Path(cwd) if cwd is not None else None
        self._workspace = workspace
        self._sessions: engine.DispatchSessions | None = None
        self._capabilities = Capabilities()
        self._shut_down = False
        self._methods: dict[str, _Handler] = {
            "initialize": self._initialize,
            "agent/initialize": self._initialize,
            "session/create": self._session_create,
            "turn/submit": self._turn_submit,
            "turn/cancel": self._turn_cancel,
            "session/end": self._session_end,
            "agent/shutdown": self._shutdown,
            "cache/info": self._cache_info,
        }

    @property
    def capabilities(self) -> Capabilities:
        """The negotiated capabilities (empty before `initialize`)."""
        return self._capabilities

    async def dispatch(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run one method and return its result; failures raise `RpcError` (JSON-RPC codes)."""
        handler = self._methods.get(method)
        if handler is None:
            raise method_not_found(method)
        try:
            return await handler(Params(method, params))
        except AmplifierError as error:
            raise engine_error(error) from error
        except RpcError:
            raise
        except Exception as exc:  # the face's outer edge: a bug is still a JSON-RPC error
            log.exception("%s failed unexpectedly", method)
            message = f"{type(exc).__name__}: {exc}"
            raise engine_error(AmplifierError(message, code="internal")) from exc

    async def handle(self, message: Any) -> dict[str, Any] | None:
        """One decoded JSON-RPC message in, its response out (None for a notification)."""
        try:
            request = parse_request(message)
        except RpcError as error:
            return error_response(request_id_of(message), error)
        try:
            result = await self.dispatch(request.method, request.params)
        except RpcError as error:
            return None if request.notification else error_response(request.id, error)
        return None if request.notification else result_response(request.id, result)

    def _ready(self) -> engine.DispatchSessions:
        if self._shut_down:
            raise AmplifierError("the agent has shut down", code="agent_not_ready")
        if self._sessions is None:
            raise AmplifierError("call initialize first", code="agent_not_ready")
        return self._sessions

    async def _initialize(self, params: Params) -> dict[str, Any]:
        if self._shut_down:
            raise AmplifierError("the agent has shut down", code="agent_not_ready")
        received = params.string("protocolVersion")
        params.optional_object("clientInfo")
        capabilities = negotiate(params.values.get("capabilities"))
        host_config = self._host_config
        if host_config is None:
            host_config = engine.load_host_config()[1]
        # Either switch allows skew: host_config for every host, the param for this one client.
        allow_skew = host_config.allow_protocol_skew is True or params.flag("allowProtocolSkew")
        check_protocol_version(received, allow_skew=allow_skew)
        options = engine.dispatch_options(
            host_config,
            cwd=params.optional_string("cwd"),
            provider_override=params.optional_object("providerOverride"),
            mcp_config_path=params.optional_string("mcpConfigPath"),
            default_cwd=self._default_cwd,
            workspace=self._workspace,
        )
        session_id, resume = params.optional_string("sessionId"), params.flag("resume")
        sessions = self._sessions or engine.DispatchSessions(host_config, options)
        previous = (sessions.host_config, sessions.options)
        sessions.configure(host_config, options)
        try:
            opened = sessions.open(session_id, resume=resume)
        except AmplifierError:
            sessions.configure(*previous)  # a failed initialize changes nothing
            raise
        self._sessions, self._capabilities = sessions, capabilities
        return {
            "capabilities": capabilities.to_json(),
            "serverInfo": {"name": SERVER_NAME, "version": __version__},
            "sessionState": {"sessionId": opened.session_id, "resumed": opened.resumed},
        }

    async def _session_create(self, params: Params) -> dict[str, Any]:
        sessions = self._ready()
        session_id = params.optional_string("sessionId")
        return {"sessionId": sessions.create(session_id, params.optional_string("cwd"))}

    async def _turn_submit(self, params: Params) -> dict[str, Any]:
        sessions = self._ready()
        session_id, turn_id = params.string("sessionId"), params.turn_id()
        prompt, attachments = params.string("prompt"), params.objects("attachments")
        final: list[dict[str, Any]] = []

        def emit(event: DisplayEvent) -> None:
            notification = to_notification(event, session_id, turn_id)
            if notification["method"] == "result/final":
                final.append(notification)
            self._deliver(notification)

        report = await sessions.run_turn(session_id, turn_id, prompt, attachments, emit)
        if report.error is not None:
            # The closed 0.3.0 result has no room for a failure: it is the JSON-RPC error,
            # sent after the turn's unrecoverable `error` notification.
            raise engine_error(report.error)
        return {
            "reply": report.reply,
            "turnId": turn_id,
            "sessionId": session_id,
            "finalEvent": final[-1] if final else None,
        }

    async def _turn_cancel(self, params: Params) -> dict[str, Any]:
        sessions = self._ready()
        session_id = params.string("sessionId")
        turn_id = params.turn_id() if params.values.get("turnId") is not None else None
        cancelled = await sessions.cancel(session_id, turn_id)
        return {
            "sessionId": session_id,
            "turnId": cancelled or turn_id,
            "cancelled": cancelled is not None,
        }

    def _deliver(self, notification: dict[str, Any]) -> None:
        """Hand a negotiated notification to the caller; a failing callback must not end the
        turn, so it is logged instead."""
        if self._notify is None or not self._capabilities.emits(notification["method"]):
            return
        try:
            self._notify(notification)
        except Exception:  # the host's callback is outside the engine's control
            log.exception("the notification callback failed on %s", notification["method"])

    async def _session_end(self, params: Params) -> dict[str, Any]:
        sessions = self._ready()
        session_id = params.string("sessionId")
        sessions.end(session_id)
        return {"sessionId": session_id, "ended": True}

    async def _shutdown(self, params: Params) -> dict[str, Any]:
        self._ready()
        await self.close()
        return {}

    async def close(self) -> None:
        """What `agent/shutdown` does (running turns cancelled and recorded as `shutdown`,
        sessions ended); nothing before `initialize` or once shut down."""
        if self._sessions is None or self._shut_down:
            return
        self._shut_down = True
        await self._sessions.shutdown()

    async def _cache_info(self, params: Params) -> dict[str, Any]:
        self._ready()
        return engine.cache_summary()


__all__ = ["SERVER_NAME", "Dispatcher", "Notify"]
