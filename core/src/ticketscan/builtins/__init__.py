"""Core's built-in plugins, registered through the ``ticketscan`` entry-point group.

Sources ``files`` and ``payload``; sinks ``jsonl``, ``sarif`` and ``stdout``; transport
``embedded``. Registered as
strings, so listing them imports nothing but this module.
"""

from __future__ import annotations

from ticketscan.hookspecs import Register, hookimpl

ticketscan_api_version = ">=1,<2"


@hookimpl
def register_sources(register: Register) -> None:
    register("ticketscan.builtins.sources:FilesSource", name="files")
    register("ticketscan.builtins.sources:PayloadSource", name="payload")


@hookimpl
def register_sinks(register: Register) -> None:
    register("ticketscan.builtins.sinks:JsonlSink", name="jsonl")
    register("ticketscan.builtins.sinks:SarifSink", name="sarif")
    register("ticketscan.builtins.sinks:StdoutSink", name="stdout")


@hookimpl
def register_transports(register: Register) -> None:
    register("ticketscan.builtins.embedded:EmbeddedTransport", name="embedded")


@hookimpl
def register_state_stores(register: Register) -> None:
    register("ticketscan.builtins.state:SqliteStateStore", name="sqlite")
