"""`serve stdio`: the wire protocol's methods for many sessions and turns in one long-lived
process, JSON-RPC over NDJSON on stdin/stdout; logs go to stderr (docs/wire.md)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from amplifier_agent.cli.logs import configure_logging
from amplifier_agent.cli.run_preboot import (
    PrebootFailure,
    check_approval_flags,
    resolve_cwd,
    workspace_for,
)
from amplifier_agent.config.host_config import HostConfig, load_host_config
from amplifier_agent.core.errors import AmplifierError, exit_code_for

if TYPE_CHECKING:
    from amplifier_agent.wire.dispatch import Dispatcher, Notify

DRAIN_ENV = "AMPLIFIER_AGENT_STDIO_DRAIN_TIMEOUT_S"
DEFAULT_DRAIN_S = 3.0
#: How long queued output may take to reach the host once serving has ended.
FLUSH_TIMEOUT_S = 5.0
LOG_LEVELS = ["debug", "info", "warning", "error", "critical"]


@dataclasses.dataclass(frozen=True, slots=True)
class StdioSettings:
    host_config: HostConfig
    cwd: Path
    workspace: str | None


@click.command(name="stdio", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", help="host_config JSON file.")
@click.option("--cwd", help="Default working directory for tools (default: the launch directory).")
@click.option("--workspace", help="Workspace slug for session state.")
@click.option("-y", "--yes", is_flag=True, help="Approve every tool call that needs approval.")
@click.option("-n", "--no", is_flag=True, help="Deny every tool call that needs approval.")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="warning",
    show_default=True,
)
def stdio(log_level: str, **options: Any) -> None:
    """Serve JSON-RPC 2.0 (protocol 0.3.0) over NDJSON on stdin/stdout until end of input."""
    configure_logging(log_level, fmt="[%(levelname)s] %(name)s: %(message)s", tracebacks=True)
    try:
        settings = _settings(options)
    except PrebootFailure as failure:
        click.echo(failure.stderr_line, err=True)
        sys.exit(exit_code_for(failure.code))
    asyncio.run(_serve(settings))
    sys.exit(0)


def _settings(options: dict[str, Any]) -> StdioSettings:
    """`run`'s process options with `run`'s checks: -y/-n override host_config approval.mode."""
    check_approval_flags(options["yes"], options["no"])
    try:
        _, host_config = load_host_config(options["config_path"])
    except AmplifierError as error:
        raise PrebootFailure.from_error(error) from error
    if options["yes"] or options["no"]:
        mode = "yes" if options["yes"] else "no"
        approval = dataclasses.replace(host_config.approval, mode=mode)
        host_config = dataclasses.replace(host_config, approval=approval)
    cwd = resolve_cwd(options["cwd"])
    explicit = options["workspace"]
    workspace = None if explicit is None else workspace_for(explicit, cwd, os.environ)
    return StdioSettings(host_config, cwd, workspace)


async def _serve(settings: StdioSettings) -> None:
    from amplifier_agent.wire.stdio import StdioServer
    from amplifier_agent.wire.stdio_io import FrameWriter, read_lines

    def make_dispatcher(notify: Notify) -> Dispatcher:
        from amplifier_agent.wire.dispatch import Dispatcher

        return Dispatcher(
            settings.host_config, notify=notify, cwd=settings.cwd, workspace=settings.workspace
        )

    requests, responses = _protocol_fds()
    writer = FrameWriter(responses)
    server = StdioServer(make_dispatcher, writer.send, drain_s=_drain_seconds())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.signalled)
    try:
        await server.serve(read_lines(requests))
    finally:
        writer.close(FLUSH_TIMEOUT_S)


def _protocol_fds() -> tuple[int, int]:
    """Private copies of stdin and stdout for the protocol; fd 0 then reads /dev/null and fd 1
    writes to stderr, so neither a stray print nor a process the agent starts (which inherits
    fds 0-2) can read the host's requests or write into the response stream."""
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    requests, responses = os.dup(stdin), os.dup(stdout)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, stdin)
    os.close(devnull)
    os.dup2(sys.stderr.fileno(), stdout)
    return requests, responses


def _drain_seconds() -> float:
    """Seconds turns in flight may take to finish once input ends or a signal arrives."""
    try:
        return max(0.0, float(os.environ.get(DRAIN_ENV, DEFAULT_DRAIN_S)))
    except ValueError:
        return DEFAULT_DRAIN_S
