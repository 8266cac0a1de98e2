"""Running the HTTP face: bind, record `serve.json`, print the banner, serve with uvicorn, and shut
down gracefully (SPEC §8.1, §8.10): drain in-flight turns, then end the rest in-band."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import secrets
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
import uvloop

from amplifier_agent.cli.serve_options import ServeOptions
from amplifier_agent.cli.serve_state import (
    SCHEMA_VERSION,
    ServeState,
    process_start_time,
    remove_state,
    write_state,
)
from amplifier_agent.engine import (
    EngineService,
    HostConfig,
    Problem,
    load_providers,
    startup_store,
)
from amplifier_agent.server.app import AgentApp, GateSettings
from amplifier_agent.server.completions import ChatContext
from amplifier_agent.server.connection import protocol_with

DRAIN_ENV = "AMPLIFIER_AGENT_HTTP_DRAIN_TIMEOUT_S"
DEFAULT_DRAIN_S = 3.0
log = logging.getLogger(__name__)


def bind_socket(options: ServeOptions) -> socket.socket:
    """Bind before serving so port 0 resolves and a busy port is a start-up problem."""
    family = socket.AF_INET6 if ":" in options.bind else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio enables TCP_NODELAY only on sockets that say so.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((options.bind, options.port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def state_for(options: ServeOptions, engine: EngineService, port: int) -> ServeState:
    pid = os.getpid()
    summary = engine.providers_summary()
    return ServeState(
        schema_version=SCHEMA_VERSION,
        pid=pid,
        process_start_time=process_start_time(pid) or "",
        instance_token=secrets.token_hex(16),
        started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        host=options.bind,
        port=port,
        api_key=options.api_key,
        api_key_generated=options.api_key_generated,
        workspace=options.workspace,
        cwd=os.getcwd(),
        host_config_path=str(Path(options.config_path).resolve()) if options.config_path else None,
        model_id=options.model_id,
        log_level=options.log_level,
        allow_hosts=list(options.allow_hosts),
        allow_origins=list(options.allow_origins),
        providers_summary=summary,
        models_total=sum(summary.values()),
    )


def banner(options: ServeOptions, state: ServeState, shared_store: str | None = None) -> str:
    """The start-up lines; a shared store (its URL, password masked) adds one."""
    key = options.api_key if options.api_key_generated else "..." + options.api_key[-4:]
    by_provider = ", ".join(f"{p}: {n}" for p, n in state.providers_summary.items())
    store = f"  Store: {shared_store}\n" if shared_store else ""
    return (
        f"amplifier-agent chat-completions listening on {state.url}\n"
        f"  API key: {key}\n"
        f"  Models: {state.models_total} ({by_provider})\n"
        f"  Workspace: {options.workspace}\n"
        f"  Config: {options.config_path or '(none)'}\n"
        f"{store}"
    )


class _Server(uvicorn.Server):
    """uvicorn with our shutdown: the first signal drains, a second one skips the drain."""

    def __init__(self, config: uvicorn.Config, app: AgentApp) -> None:
        super().__init__(config)
        self.agent_app = app
        self._draining: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: object) -> None:
        # Not uvicorn's handler: it re-raises the signal after serving, and we must exit 0.
        loop = asyncio.get_event_loop()
        loop.call_soon_threadsafe(self._on_signal)

    def _on_signal(self) -> None:
        if self._draining is None:
            self._draining = asyncio.get_running_loop().create_task(self._drain())
            return
        self._end_in_flight()
        self.force_exit = True
        self.should_exit = True

    async def _drain(self) -> None:
        chat = self.agent_app.chat
        chat.draining = True
        for listener in self.servers:
            listener.close()  # stop accepting; kept-alive connections get 503
        deadline = time.monotonic() + _drain_seconds()
        while chat.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self._end_in_flight()
        while chat.in_flight and time.monotonic() < deadline + 2:
            await asyncio.sleep(0.02)
        self.should_exit = True

    def _end_in_flight(self) -> None:
        for runner in list(self.agent_app.chat.in_flight):
            if not runner.task.done():
                runner.cancel("shutdown")


def _drain_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(DRAIN_ENV, DEFAULT_DRAIN_S)))
    except ValueError:
        return DEFAULT_DRAIN_S


def run(options: ServeOptions, host_config: HostConfig) -> list[Problem]:
    """Start-up and serving on one uvloop event loop (provider clients are bound to the loop
    they were made on); the problems that prevented start-up, if any."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(start_and_serve(options, host_config))


async def start_and_serve(options: ServeOptions, host_config: HostConfig) -> list[Problem]:
    """Load every provider, bind, and serve until a signal ends it; the problems that prevented
    start-up otherwise."""
    store, store_problems = await asyncio.to_thread(startup_store, options.store, host_config)
    loaded, problems = await load_providers(host_config)
    if loaded is None or store is None:
        if loaded is not None:
            await loaded.pool.aclose()
        if store is not None:
            store.close()
        return store_problems + problems
    try:
        sock = bind_socket(options)
    except OSError as exc:
        await loaded.pool.aclose()
        store.close()
        code = "port_in_use" if exc.errno == errno.EADDRINUSE else "bind_failed"
        return [Problem(code, f"cannot bind {options.bind}:{options.port}: {exc.strerror}")]
    engine = EngineService(host_config, loaded, options.workspace, Path.cwd(), store=store)
    try:
        await serve(options, engine, sock)
    finally:
        store.close()
    return []


async def serve(options: ServeOptions, engine: EngineService, sock: socket.socket) -> None:
    """Write the state file, print the banner and serve until a signal ends it."""
    port = sock.getsockname()[1]
    state = state_for(options, engine, port)
    app = AgentApp(
        ChatContext(engine=engine, model_id=options.model_id),
        GateSettings(
            api_key=options.api_key,
            bind_is_loopback=options.bind_is_loopback,
            allowed_hosts=options.allow_hosts,
            allowed_origins=options.allow_origins,
        ),
    )
    config = uvicorn.Config(
        app,
        http=protocol_with(options.read_timeouts),
        loop="uvloop",
        lifespan="off",
        access_log=False,
        log_level=options.log_level,
        log_config=None,
        timeout_graceful_shutdown=5,
    )
    server = _Server(config, app)
    write_state(state)
    try:
        shared = engine.store.describe() if engine.store.shared else None
        sys.stderr.write(banner(options, state, shared))
        sys.stderr.flush()
        gc.freeze()
        await server.serve(sockets=[sock])
    finally:
        remove_state(state.instance_token)
        await engine.aclose()


__all__ = ["bind_socket", "run", "serve"]
