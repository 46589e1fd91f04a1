"""``python -m ticketscan`` runs the CLI."""

from ticketscan.cli.main import main

main()
