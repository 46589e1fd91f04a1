"""ticketscan plugin: SIEM sinks — Splunk HEC, syslog (RFC 5424 + CEF or JSON), OCSF, webhook.

Registered lazily: httpx and the formatters load only when a sink is used.
"""

from __future__ import annotations

from ticketscan import hookimpl
from ticketscan.hookspecs import Register

ticketscan_api_version = ">=1,<2"


@hookimpl
def register_sinks(register: Register) -> None:
    register("ticketscan_siem.hec:SplunkHecSink", name="splunk-hec")
    register("ticketscan_siem.syslog:SyslogSink", name="syslog")
    register("ticketscan_siem.ocsf:OcsfSink", name="ocsf")
    register("ticketscan_siem.webhook:WebhookSink", name="webhook")
