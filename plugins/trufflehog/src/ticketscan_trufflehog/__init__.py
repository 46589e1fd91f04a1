"""ticketscan plugin: trufflehog (registered lazily: the scanner module loads only when used)."""

from __future__ import annotations

from ticketscan import hookimpl
from ticketscan.hookspecs import Register

ticketscan_api_version = ">=1,<2"


@hookimpl
def register_scanners(register: Register) -> None:
    register("ticketscan_trufflehog.scanner:TrufflehogScanner", name="trufflehog")
