"""`version [--json]` (SPEC §7.5)."""

from __future__ import annotations

import click
import orjson

from amplifier_agent import PROTOCOL_VERSION, __version__


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print {version, protocolVersion} as JSON.")
def version(as_json: bool) -> None:
    """Print the engine and wire protocol versions."""
    if as_json:
        click.echo(orjson.dumps({"version": __version__, "protocolVersion": PROTOCOL_VERSION}))
    else:
        click.echo(f"amplifier-agent {__version__} (wire {PROTOCOL_VERSION})")
