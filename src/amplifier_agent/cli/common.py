"""Shared CLI helpers: groups that print help when called bare, error lines on stderr."""

from __future__ import annotations

import click


class HelpOnEmptyGroup(click.Group):
    """A group invoked without a subcommand prints its help on stdout and exits 0."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args:
            click.echo(ctx.get_help())
            ctx.exit(0)
        return super().parse_args(ctx, args)


def error_line(code: str, message: str) -> None:
    """The generic failure line every command prints on stderr: `[error] <code>: <message>`."""
    click.echo(f"[error] {code}: {message}", err=True)
