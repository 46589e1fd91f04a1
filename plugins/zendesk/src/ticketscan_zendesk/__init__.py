"""ticketscan plugin: Zendesk source and remediation sink (lazy: zenpy loads only when used)."""

from __future__ import annotations

from ticketscan import hookimpl
from ticketscan.hookspecs import Register

ticketscan_api_version = ">=1,<2"


@hookimpl
def register_sources(register: Register) -> None:
    register("ticketscan_zendesk.source:ZendeskSource", name="zendesk")


@hookimpl
def register_sinks(register: Register) -> None:
    register("ticketscan_zendesk.remediate:ZendeskRemediateSink", name="zendesk-remediate")
