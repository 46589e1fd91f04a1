"""ticketscan plugin: Redis state store for alert-once across a cluster of workers."""

from __future__ import annotations

from ticketscan import hookimpl
from ticketscan.hookspecs import Register

ticketscan_api_version = ">=1,<2"


@hookimpl
def register_state_stores(register: Register) -> None:
    register("ticketscan_redis_state.store:RedisStateStore", name="redis")
