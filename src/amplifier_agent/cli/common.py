"""Shared CLI helpers: groups that print help when called bare, error lines on stderr."""

from __future__ import annotations

import click


class HelpOnEmptyGroup(click.Group):
    """A group invoked without a subcommand prints its help on stdout and exits 0."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("invoke_without_command", True)
        kwargs.setdefault("no_args_is_help", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def invoke(self, ctx: click.Context) -> object:
        if ctx.invoked_subcommand is None and not ctx.protected_args:
            click.echo(ctx.get_help())
            ctx.exit(0)
        return super().invoke(ctx)


def error_line(code: str, message: str) -> None:
    """The generic failure line every command prints on stderr: `[error] <code>: <message>`."""
    click.echo(f"[error] {code}: {message}", err=True)
