"""`store export` / `store import`: move sessions, stored Responses and the ledger between the
files under the state root and a PostgreSQL store, as JSON lines."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

import click

from amplifier_agent.cli.common import HelpOnEmptyGroup

if TYPE_CHECKING:
    from amplifier_agent.engine import Transferred

STORE_HELP = "postgresql:// URL [env AMPLIFIER_AGENT_STORE_URL; host_config store.url; files]."
CONFIG_HELP = "host_config file (for its store.url)."


@click.group(name="store", cls=HelpOnEmptyGroup)
def store() -> None:
    """Move sessions, stored Responses and the ledger between stores."""


@store.command(name="export")
@click.option("--store", "store_url", metavar="URL", help=STORE_HELP)
@click.option("--config", "config_path", metavar="PATH", help=CONFIG_HELP)
@click.option("--output", "output", type=click.File("w", encoding="utf-8"), default="-",
              help="Write here instead of stdout.")  # fmt: skip
def export(store_url: str | None, config_path: str | None, output: IO[str]) -> None:
    """Write every session, stored Response and ledger line of a store as JSON lines."""
    from amplifier_agent import engine

    backend = engine.open_configured_store(store_url, engine.load_host_config(config_path)[1])
    try:
        done = engine.export_store(backend, output.write)
        output.flush()
    finally:
        backend.close()
    click.echo(
        f"exported {counts(done)} from {backend.describe()}",
        err=True,
    )


@store.command(name="import")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--store", "store_url", metavar="URL", help=STORE_HELP)
@click.option("--config", "config_path", metavar="PATH", help=CONFIG_HELP)
def import_(source: IO[str], store_url: str | None, config_path: str | None) -> None:
    """Read a `store export` (SOURCE, default stdin) into a store."""
    from amplifier_agent import engine

    backend = engine.open_configured_store(store_url, engine.load_host_config(config_path)[1])
    name = str(getattr(source, "name", "input"))
    try:
        done = engine.import_store(backend, source, name)
    finally:
        backend.close()
    click.echo(
        f"imported {counts(done)} into {backend.describe()}",
        err=True,
    )


def counts(done: Transferred) -> str:
    """What was moved; stored Responses are named only when there were some."""
    responses = f", {done.responses} stored responses" if done.responses else ""
    return f"{done.sessions} sessions{responses} and {done.ledger_lines} ledger lines"
