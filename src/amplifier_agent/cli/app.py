"""The root command group and its dispatch rules (SPEC §7.1).

Subcommands are imported only when invoked, so `version --json` (run by the host SDKs on every
spawn) never pays for the engine's imports.
"""

from __future__ import annotations

import os
import sys

import click

from amplifier_agent import __version__
from amplifier_agent.cli.common import HelpOnEmptyGroup

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
#: Set to show a Python traceback for an unexpected failure of any command.
DEBUG_ENV = "AMPLIFIER_AGENT_DEBUG"

#: name -> (module, attribute, one-line help shown in the command list)
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "auth": ("amplifier_agent.cli.auth", "auth", "Manage stored provider credentials."),
    "config": ("amplifier_agent.cli.config_cmd", "config", "Inspect the effective configuration."),
    "doctor": ("amplifier_agent.cli.doctor", "doctor", "Check the installation and configuration."),
    "models": ("amplifier_agent.cli.models", "models", "List the models providers serve."),
    "run": ("amplifier_agent.cli.run", "run", "Run one agent turn on a prompt."),
    "serve": ("amplifier_agent.cli.serve", "serve", "Run and manage the OpenAI-compatible server."),
    "store": (
        "amplifier_agent.cli.store_cmd",
        "store",
        "Move sessions and the ledger between stores.",
    ),
    "version": (
        "amplifier_agent.cli.version",
        "version",
        "Print the engine and protocol versions.",
    ),
}


class LazyGroup(HelpOnEmptyGroup):
    """A group whose subcommands live in modules imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*LAZY_COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = LAZY_COMMANDS.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute, _ = entry
        # __import__ (not importlib) so `python -X importtime` reports the module like any other.
        command = getattr(__import__(module_name, fromlist=[attribute]), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{attribute} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, LAZY_COMMANDS[name][2]) for name in sorted(LAZY_COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(
    __version__, "--version", prog_name="amplifier-agent", message="%(prog)s %(version)s"
)
def cli() -> None:
    """amplifier-agent: an AI agent engine for any LLM provider."""


def _utf8_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="replace")


def run_cli() -> None:
    _utf8_stdio()
    try:
        cli.main(prog_name="amplifier-agent", standalone_mode=True)
    except KeyboardInterrupt:
        sys.stderr.write("\n[info] Interrupted\n")
        sys.exit(130)
    except Exception as exc:
        # The last edge before the user: one `[error]` line, never a traceback (unless asked).
        if _debugging():
            raise
        sys.stderr.write(_error_line(exc))
        sys.exit(_exit_code(exc))


def _debugging() -> bool:
    return "--debug" in sys.argv[1:] or bool(os.environ.get(DEBUG_ENV, "").strip())


def _error_line(exc: Exception) -> str:
    from amplifier_agent.core.errors import AmplifierError

    if isinstance(exc, AmplifierError):
        return f"[error] {exc.code}: {exc.message}\n"
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = f"cannot access {exc.filename}: {exc.strerror or exc}"
        return f"[error] storage_error: {reason}\n"
    return f"[error] internal: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for a traceback)\n"


def _exit_code(exc: Exception) -> int:
    from amplifier_agent.core.errors import AmplifierError, exit_code_for

    return exit_code_for(exc.code) if isinstance(exc, AmplifierError) else 1
