"""`run [OPTIONS] [PROMPT]`: one turn per process; a reply or a JSON envelope on stdout (§7.2)."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sys
import time
import uuid
from contextlib import nullcontext, redirect_stdout
from typing import TYPE_CHECKING, Any

import click
import orjson

from amplifier_agent.cli.display import EventPrinter, Verbosity
from amplifier_agent.cli.envelope import EnvelopeError, envelope, preboot_envelope
from amplifier_agent.cli.logs import configure_logging
from amplifier_agent.cli.run_preboot import (
    Flags,
    PrebootFailure,
    approval_mode,
    check_argv,
    check_protocol,
    check_session_flags,
    resolve_cwd,
    stdin_is_tty,
    workspace_for,
)
from amplifier_agent.core.errors import AmplifierError, exit_code_for

if TYPE_CHECKING:
    from amplifier_agent import engine
    from amplifier_agent.cli.run_turn import RunCommand


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("prompt", required=False)
@click.option("--session-id", help="Persist the turn in this session (resumed if it exists).")
@click.option("--resume", is_flag=True, help="Require an existing session and continue it.")
@click.option("--fresh", is_flag=True, help="Delete the session first, then start it anew.")
@click.option("--config", "config_path", help="host_config JSON file.")
@click.option("--cwd", help="Working directory for tools (default: the launch directory).")
@click.option("-v", "--verbose", is_flag=True, help="Show every event on stderr.")
@click.option("--debug", is_flag=True, help="Like -v, plus each event's JSON.")
@click.option("--quiet", is_flag=True, help="No event lines on stderr.")
@click.option("-y", "--yes", is_flag=True, help="Approve every tool call that needs approval.")
@click.option("-n", "--no", is_flag=True, help="Deny every tool call that needs approval.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--display",
    type=click.Choice(["text", "ndjson"], case_sensitive=False),
    default="text",
    show_default=True,
    help="How events are written to stderr.",
)
@click.option("--protocol-version", help="Fail unless the engine speaks this wire protocol.")
@click.option("--workspace", help="Workspace slug for session state.")
@click.option(
    "--store",
    metavar="URL",
    help="postgresql:// URL of a shared session store "
    "[env AMPLIFIER_AGENT_STORE_URL; host_config store.url; files].",
)
def run(prompt: str | None, **options: Any) -> None:
    """Run one agent turn on PROMPT and print the reply (or a JSON envelope)."""
    correlation_id = str(uuid.uuid4())
    flags = Flags(**{k: options[k] for k in Flags.__dataclass_fields__})
    try:
        turn = _preboot(prompt, options, flags, correlation_id)
    except PrebootFailure as failure:
        _fail_preboot(failure, correlation_id)
    _become_session_leader()
    exit_code = _run_turn(turn, options, flags)
    sys.exit(exit_code)


def _preboot(
    prompt: str | None, options: dict[str, Any], flags: Flags, correlation_id: str
) -> RunCommand:
    # Imported here, not at the top: `run --help` must not pay for the engine and its SDKs.
    from amplifier_agent import engine
    from amplifier_agent.cli.run_turn import RunCommand

    checked_prompt = check_argv(flags, prompt)
    check_session_flags(flags, options["session_id"])
    try:
        _, host_config = engine.load_host_config(options["config_path"])
        module = engine.select_provider_module(host_config)
    except AmplifierError as error:
        raise PrebootFailure.from_error(error) from error
    mode = approval_mode(flags, host_config, stdin_is_tty())
    check_protocol(options["protocol_version"], host_config)
    cwd = resolve_cwd(options["cwd"])
    workspace = workspace_for(options["workspace"], cwd, os.environ)
    session_id = options["session_id"]
    if session_id is not None:
        try:
            engine.validate_session_id(session_id)
        except AmplifierError as error:
            raise PrebootFailure.from_error(error) from error
    session_mode: engine.SessionMode = (
        "resume" if flags.resume else "fresh" if flags.fresh else "auto"
    )
    return RunCommand(
        prompt=checked_prompt,
        cwd=cwd,
        workspace=workspace,
        session_id=session_id,
        session_mode=session_mode,
        approval_mode=mode,
        asker=_terminal_asker if mode == "prompt" else None,
        host_config=host_config,
        provider_module=module,
        correlation_id=correlation_id,
        argv=tuple(sys.argv),
    )


def _fail_preboot(failure: PrebootFailure, correlation_id: str) -> None:
    click.echo(failure.stderr_line, err=True)
    error = EnvelopeError(failure.code, failure.message, failure.remediation)
    _write_stdout(orjson.dumps(preboot_envelope(error, correlation_id)).decode() + "\n")
    sys.exit(exit_code_for(failure.code))


def _become_session_leader() -> None:
    """Lead a new session so a host can signal the whole group; tolerated when not permitted."""
    try:
        if os.getsid(0) != os.getpid():
            os.setsid()
    except OSError:
        pass
    if os.environ.get("AMPLIFIER_AGENT_DEBUG_SIDLOG"):
        click.echo(f"engine-sid-ok pid={os.getpid()} sid={os.getsid(0)}", err=True)


async def _terminal_asker(question: str) -> str:
    sys.stderr.write(question)
    sys.stderr.flush()
    return await _read_line(sys.stdin.fileno())


async def _read_line(fd: int) -> str:
    """One line from `fd` without a worker thread: a thread blocked in `readline` would keep
    Ctrl-C from ending the process until the user pressed Enter."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()
    buffer = bytearray()

    def readable() -> None:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # a hung-up terminal reads as end of input: the call is not approved
            chunk = b""
        buffer.extend(chunk)
        if (not chunk or b"\n" in buffer) and not answer.done():
            answer.set_result(bytes(buffer))

    loop.add_reader(fd, readable)
    try:
        data = await answer
    finally:
        loop.remove_reader(fd)
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")


def _verbosity(flags: Flags) -> Verbosity:
    if flags.debug:
        return "debug"
    if flags.verbose:
        return "verbose"
    return "quiet" if flags.quiet else "normal"


_LOG_LEVELS: dict[Verbosity, str] = {
    "quiet": "error",
    "normal": "warning",
    "verbose": "info",
    "debug": "debug",
}


def _run_turn(command: RunCommand, options: dict[str, Any], flags: Flags) -> int:
    from amplifier_agent import engine
    from amplifier_agent.cli.run_turn import failure_report

    verbosity = _verbosity(flags)
    configure_logging(
        _LOG_LEVELS[verbosity], fmt="[%(levelname)s] %(message)s", tracebacks=verbosity == "debug"
    )
    printer = EventPrinter(mode=options["display"].lower(), verbosity=verbosity)
    started = time.monotonic()
    received: list[int] = []
    started_at = engine.now_iso()
    try:
        store = engine.open_configured_store(options["store"], command.host_config)
    except AmplifierError as error:  # the database is unreachable or refuses this version
        report = failure_report(command, command.service(), error)
        return _finish(command, report, options, (started, started_at), None)
    try:
        report = _turn_in(command, command.service(store), printer, options, received)
        return _finish(command, report, options, (started, started_at), store)
    except asyncio.CancelledError:
        return _interrupted(received)
    finally:
        store.close()


def _finish(
    command: RunCommand,
    report: engine.TurnReport,
    options: dict[str, Any],
    started: tuple[float, str],
    store: engine.StoreBackend | None,
) -> int:
    """Print the result and write the audit record; the exit code."""
    from amplifier_agent import engine

    ended_at = engine.now_iso()
    exit_code = 0 if report.error is None else exit_code_for(report.error.code)
    duration_ms = int((time.monotonic() - started[0]) * 1000)
    _emit_result(report, command.correlation_id, options["output"], duration_ms)
    engine.write_audit(
        command.workspace,
        report.session_id,
        report.turn_id,
        argv=command.argv,
        exit_code=exit_code,
        correlation_id=command.correlation_id,
        started_at=started[1],
        ended_at=ended_at,
        store=store,
    )
    return exit_code


def _turn_in(
    command: RunCommand,
    service: engine.EngineService,
    printer: EventPrinter,
    options: dict[str, Any],
    received: list[int],
) -> engine.TurnReport:
    from amplifier_agent.cli.run_turn import failure_report, run_turn

    with redirect_stdout(sys.stderr) if options["output"] == "json" else nullcontext():
        try:
            turn = _turn_with_signals(run_turn(command, service, printer), received)
            report: engine.TurnReport = asyncio.run(turn)
            return report
        except Exception as exc:  # the face's outermost edge: even a bug gets an error envelope
            return failure_report(command, service, exc)


async def _turn_with_signals(coro: Any, received: list[int]) -> Any:
    """Run the turn; SIGINT/SIGTERM cancel it (the engine persists what happened)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(coro)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _cancel, task, received, signum)
    return await task


def _cancel(task: asyncio.Future[Any], received: list[int], signum: int) -> None:
    received.append(signum)
    task.cancel()


def _interrupted(received: list[int]) -> int:
    if received and received[0] == signal.SIGTERM:
        sys.stderr.write("[info] Terminated\n")
        return 143
    sys.stderr.write("\n[info] Interrupted\n")
    return 130


def _emit_result(
    report: engine.TurnReport, correlation_id: str, output: str, duration_ms: int
) -> None:
    error = report.error
    if error is not None:
        click.echo(f"[error] {error.code}: {error.message}", err=True)
    # A reply next to an error is one the model gave but the session could not store: still shown.
    if output == "text" and (error is None or report.reply):
        _write_stdout(report.reply + "\n")
        return
    env_error = (
        None if error is None else EnvelopeError(error.code, error.message, error.remediation)
    )
    document = envelope(
        session_id=report.session_id,
        turn_id=report.turn_id,
        reply=report.reply,
        usage=report.usage,
        duration_ms=duration_ms,
        correlation_id=correlation_id,
        error=env_error,
    )
    _write_stdout(orjson.dumps(document).decode() + "\n")


def _write_stdout(text: str) -> None:
    """The one final stdout write; a failure (EPIPE, ENOSPC) is a clean exit 1."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        sys.stderr.write(f"[error] stdout write failed: {name}\n")
        _silence_stdout()
        sys.exit(1)


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's exit-time flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
