"""Console-script entry point. `--version` is answered before click or any SDK is imported."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from amplifier_agent import __version__

        sys.stdout.write(f"amplifier-agent {__version__}\n")
        return
    from amplifier_agent.cli.app import run_cli

    run_cli()
