"""The root command group and its dispatch rules (SPEC §7.1)."""

from __future__ import annotations

import sys

import click

from amplifier_agent import __version__
from amplifier_agent.cli.auth import auth
from amplifier_agent.cli.common import HelpOnEmptyGroup
from amplifier_agent.cli.config_cmd import config
from amplifier_agent.cli.models import models
from amplifier_agent.cli.version import version

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@click.group(cls=HelpOnEmptyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="amplifier-agent", message="%(prog)s %(version)s")
def cli() -> None:
    """amplifier-agent: an AI agent engine for any LLM provider."""


cli.add_command(version)
cli.add_command(auth)
cli.add_command(config)
cli.add_command(models)


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
