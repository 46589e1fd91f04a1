"""ticketscan plugin: fastscan, a native engine (hyperscan prefilter, RE2 confirmation)."""

from __future__ import annotations

from ticketscan import hookimpl
from ticketscan.hookspecs import Register

ticketscan_api_version = ">=1,<2"


@hookimpl
def register_scanners(register: Register) -> None:
    register("ticketscan_fastscan.scanner:FastScanner", name="fastscan")
