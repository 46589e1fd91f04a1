"""Entry-point module of the example plugin: declares the API range and registers lazily."""

from __future__ import annotations

from ticketscan import hookimpl
from ticketscan.hookspecs import Register

ticketscan_api_version = ">=1,<2"


@hookimpl
def register_scanners(register: Register) -> None:
    # a string target: the scanner module is imported only when a pipeline uses it
    register("ticketscan_example.scanner:InternalTokenScanner", name="internal-token")
