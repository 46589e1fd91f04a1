"""ticketscan plugin: the aws-sqs transport (registered lazily: its client loads only when used)."""

from __future__ import annotations

from ticketscan import hookimpl
from ticketscan.hookspecs import Register

ticketscan_api_version = ">=1,<2"


@hookimpl
def register_transports(register: Register) -> None:
    register("ticketscan_aws_sqs.transport:SqsTransport", name="aws-sqs")
