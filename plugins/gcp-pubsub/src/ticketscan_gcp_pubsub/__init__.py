"""ticketscan plugin: the gcp-pubsub transport (its client loads only when used)."""

from __future__ import annotations

from ticketscan import hookimpl
from ticketscan.hookspecs import Register

ticketscan_api_version = ">=1,<2"


@hookimpl
def register_transports(register: Register) -> None:
    register("ticketscan_gcp_pubsub.transport:PubSubTransport", name="gcp-pubsub")
