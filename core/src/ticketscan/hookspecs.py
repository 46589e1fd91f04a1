"""The hooks a ticketscan plugin implements.

A plugin is a module named by an entry point in the ``ticketscan`` group. It declares the
plugin API versions it supports and implements one registration hook per kind of component
it provides::

    from ticketscan import hookimpl

    ticketscan_api_version = ">=1,<2"

    @hookimpl
    def register_scanners(register):
        register("ticketscan_myscanner.scanner:MyScanner", name="myscanner")

Hooks only discover: behaviour lives in the component classes (see ``ticketscan.components``).
``register`` takes either a component class or a ``"module:Class"`` string together with
``name=``; a string is imported only when the pipeline uses that component, so a plugin's
heavy dependencies never slow down ``ticketscan --help`` or other plugins.

Every hook is documented in ``docs/hooks.md``; a test checks it.
"""

from __future__ import annotations

from typing import Protocol

import pluggy

PROJECT_NAME = "ticketscan"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class Register(Protocol):
    """The callback each registration hook receives."""

    def __call__(self, component: object, *, name: str | None = None) -> None: ...


@hookspec
def register_sources(register: Register) -> None:
    """Register source components: they parse webhook events and fetch tickets as Documents."""


@hookspec
def register_scanners(register: Register) -> None:
    """Register scanner components: they turn Documents into findings."""


@hookspec
def register_sinks(register: Register) -> None:
    """Register sink components: they deliver findings (or act on them) somewhere."""


@hookspec
def register_transports(register: Register) -> None:
    """Register transport components: they carry events from the receiver to the pipeline."""


@hookspec
def register_state_stores(register: Register) -> None:
    """Register state stores: they remember which secrets each sink already alerted.

    Chosen by ``[state] store = NAME``; core ships ``sqlite``. See ``ticketscan.StateStore``.
    """
