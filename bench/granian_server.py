"""`serve chat-completions` with granian (embedded, on the same uvloop loop) in place of uvicorn,
to compare the two ASGI servers with `http_hot_path.py --server-cmd`.

    pip install granian            # not a project dependency
    python bench/http_hot_path.py --server-cmd "python bench/granian_server.py"

Everything but the HTTP server is the CLI's own: options, start-up, providers, the app, the
banner. Only the serving step is swapped, so the figures differ by the server alone. Signals get
granian's default handling (no drain), which the benchmark does not exercise.
"""

from __future__ import annotations

import gc
import socket
import sys

from granian.constants import HTTPModes, Interfaces
from granian.log import LogLevels
from granian.server.embed import Server

from amplifier_agent.cli import serve_runtime
from amplifier_agent.cli.entry import main
from amplifier_agent.cli.serve_options import ServeOptions
from amplifier_agent.engine import EngineService
from amplifier_agent.server.app import AgentApp, GateSettings
from amplifier_agent.server.completions import ChatContext


async def serve_with_granian(
    options: ServeOptions, engine: EngineService, sock: socket.socket
) -> None:
    # granian binds its own socket: hand it the port the CLI resolved, then let go of ours.
    port = sock.getsockname()[1]
    sock.close()
    state = serve_runtime.state_for(options, engine, port)
    app = AgentApp(
        ChatContext(engine=engine, model_id=options.model_id),
        GateSettings(
            api_key=options.api_key,
            bind_is_loopback=options.bind_is_loopback,
            allowed_hosts=options.allow_hosts,
            allowed_origins=options.allow_origins,
        ),
    )
    server = Server(
        app,
        address=options.bind,
        port=port,
        interface=Interfaces.ASGINL,
        http=HTTPModes.http1,
        websockets=False,
        backlog=2048,
        log_level=LogLevels.warning,
    )
    sys.stderr.write(serve_runtime.banner(options, state))
    sys.stderr.flush()
    gc.freeze()
    try:
        await server.serve()
    finally:
        await engine.aclose()


if __name__ == "__main__":
    serve_runtime.serve = serve_with_granian  # type: ignore[assignment]
    sys.argv[0] = "amplifier-agent"
    main()
