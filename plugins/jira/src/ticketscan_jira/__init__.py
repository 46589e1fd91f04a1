"""ticketscan plugin: Jira (registered lazily: atlassian-python-api loads only when used)."""

from __future__ import annotations

from ticketscan import hookimpl
from ticketscan.hookspecs import Register

ticketscan_api_version = ">=1,<2"


@hookimpl
def register_sources(register: Register) -> None:
    register("ticketscan_jira.source:JiraSource", name="jira")


@hookimpl
def register_sinks(register: Register) -> None:
    register("ticketscan_jira.remediate:JiraRemediate", name="jira-remediate")
