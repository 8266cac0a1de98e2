"""`serve chat-completions`: validate everything first (SPEC §8.2), then run the HTTP face."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click
import orjson

from amplifier_agent.cli.common import HelpOnEmptyGroup
from amplifier_agent.cli.logs import configure_logging
from amplifier_agent.cli.serve_manage import restart, status, stop
from amplifier_agent.cli.serve_state import ServeLock, StateFileError, read_state
from amplifier_agent.cli.serve_stdio import stdio
from amplifier_agent.core.errors import StorageError

if TYPE_CHECKING:
    from amplifier_agent.cli.serve_options import ServeOptions

LOG_LEVELS = ["debug", "info", "warning", "error", "critical"]


@click.group(name="serve", cls=HelpOnEmptyGroup)
def serve() -> None:
    """Run and manage the OpenAI-compatible HTTP server."""


serve.add_command(status)
serve.add_command(stop)
serve.add_command(restart)
serve.add_command(stdio)


@serve.command(name="chat-completions")
@click.option("--bind", help="Address to bind [env AMPLIFIER_AGENT_HTTP_BIND; 127.0.0.1].")
@click.option("--port", help="Port; 0 = ephemeral [env AMPLIFIER_AGENT_HTTP_PORT; 9099].")
@click.option("--api-key", help="Bearer key clients must send [env AMPLIFIER_AGENT_HTTP_API_KEY].")
@click.option(
    "--workspace", help="Workspace slug for sessions [env AMPLIFIER_AGENT_HTTP_WORKSPACE]."
)
@click.option(
    "--model-id", help="Model id echoed in responses [env AMPLIFIER_AGENT_HTTP_MODEL_ID]."
)
@click.option("--config", help="host_config JSON [env AMPLIFIER_AGENT_HTTP_CONFIG_PATH].")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False))
@click.option("--allow-host", multiple=True, help="Extra accepted Host header value (repeatable).")
@click.option(
    "--allow-origin", multiple=True, help="Origin allowed to call with CORS (repeatable)."
)
@click.option(
    "--store",
    metavar="URL",
    help="postgresql:// URL of a store shared by several servers "
    "[env AMPLIFIER_AGENT_STORE_URL; host_config store.url; files].",
)
def chat_completions(**flags: Any) -> None:
    """Serve /v1/models and /v1/chat/completions over HTTP."""
    # Imported here, not at the top: `serve chat-completions --help` must not load the engine.
    from amplifier_agent import engine
    from amplifier_agent.cli import serve_runtime
    from amplifier_agent.cli.serve_options import resolve_options

    options, problems = resolve_options(flags)
    _configure_logging(options.log_level)
    config_problems, host_config = _load_config(options)
    lock = ServeLock()
    if not problems:
        problems += _lock_problems(lock)
    provider_problems = engine.providers_problems(host_config) if host_config else []
    early = config_problems + problems + provider_problems
    if early or host_config is None:
        _fail(early)
    try:
        late = serve_runtime.run(options, host_config)
    except StorageError as error:  # serve.json could not be recorded
        late = [engine.Problem(error.code, error.message)]
    finally:
        lock.release()
    if late:
        _fail(late)


def _lock_problems(lock: ServeLock) -> list[Any]:
    """Why this server cannot hold serve.lock: another one runs (named by PID and URL), or the
    state root cannot hold the lock file."""
    from amplifier_agent import engine

    try:
        if lock.acquire():
            return []
    except StorageError as error:
        return [engine.Problem(error.code, error.message)]
    return [engine.Problem("already_running", _running_server())]


def _running_server() -> str:
    try:
        state = read_state()
    except StateFileError:
        state = None
    if state is None:
        return "another server holds serve.lock"
    return f"a server is already running at {state.url} (PID {state.pid})"


def _load_config(options: ServeOptions) -> tuple[list[Any], Any]:
    from amplifier_agent import engine
    from amplifier_agent.core.errors import ConfigError

    try:
        _, host_config = engine.load_host_config(options.config_path)
    except ConfigError as error:
        return [engine.Problem(error.code, error.message)], None
    return [], host_config


def _fail(problems: list[Any]) -> NoReturn:
    for problem in problems:
        where = f" ({problem.provider})" if problem.provider else ""
        click.echo(f"[error] {problem.code}{where}: {problem.message}", err=True)
    count = len(problems)
    summary = {
        "error": {
            "code": "startup_failed",
            "message": f"{count} problem{'s' if count != 1 else ''} prevented startup",
            "problems": [p.to_json() for p in problems],
        }
    }
    click.echo(orjson.dumps(summary).decode(), err=True)
    sys.exit(2)


def _configure_logging(level: str) -> None:
    configure_logging(level, fmt="%(asctime)s %(levelname)s %(name)s: %(message)s", tracebacks=True)
