"""`python -m amplifier_agent` runs the CLI."""

from amplifier_agent.cli.entry import main

main()
