"""ticketscan plugin: Slack sink (slack-sdk loads only when the sink is used)."""

from __future__ import annotations

from ticketscan import hookimpl
from ticketscan.hookspecs import Register

ticketscan_api_version = ">=1,<2"


@hookimpl
def register_sinks(register: Register) -> None:
    register("ticketscan_slack.sink:SlackSink", name="slack")
