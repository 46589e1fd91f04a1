"""ticketscan plugin: e-mail digests per ticket over SMTP (standard library only)."""

from __future__ import annotations

from ticketscan import hookimpl
from ticketscan.hookspecs import Register

ticketscan_api_version = ">=1,<2"


@hookimpl
def register_sinks(register: Register) -> None:
    register("ticketscan_email.sink:EmailSink", name="email")
