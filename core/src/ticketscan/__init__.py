"""ticketscan: find leaked credentials in support tickets, in real time.

The public API for plugin authors::

    from ticketscan import hookimpl, Scanner, Sink, Source, Transport, ComponentSettings
    from ticketscan import RawFinding, Finding, Document, TicketEvent

Names other than ``hookimpl`` and ``__version__`` are imported lazily, so importing the
package stays cheap for short-lived commands.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .hookspecs import hookimpl

__version__ = "0.1.0"

_LAZY = {
    "ComponentSettings": "components",
    "Message": "components",
    "PublishContext": "components",
    "ScanBatch": "components",
    "ScanInput": "components",
    "Scanner": "components",
    "Sink": "components",
    "Source": "components",
    "Transport": "components",
    "Detection": "models",
    "Document": "models",
    "Finding": "models",
    "Location": "models",
    "Manifest": "models",
    "Part": "models",
    "PublishReport": "models",
    "RawFinding": "models",
    "Severity": "models",
    "SinkReport": "models",
    "TicketEvent": "models",
    "TicketRef": "models",
    "Verified": "models",
    "DocumentWriter": "documents",
    "PLUGIN_API_VERSION": "plugins",
    "make_plugin_manager": "plugins",
    "load_config": "config",
    "TicketscanError": "errors",
}

__all__ = ["__version__", "hookimpl", *sorted(_LAZY)]

if TYPE_CHECKING:  # pragma: no cover
    from .components import (
        ComponentSettings as ComponentSettings,
        Message as Message,
        PublishContext as PublishContext,
        ScanBatch as ScanBatch,
        ScanInput as ScanInput,
        Scanner as Scanner,
        Sink as Sink,
        Source as Source,
        Transport as Transport,
    )
    from .config import load_config as load_config
    from .documents import DocumentWriter as DocumentWriter
    from .errors import TicketscanError as TicketscanError
    from .models import (
        Detection as Detection,
        Document as Document,
        Finding as Finding,
        Location as Location,
        Manifest as Manifest,
        Part as Part,
        PublishReport as PublishReport,
        RawFinding as RawFinding,
        Severity as Severity,
        SinkReport as SinkReport,
        TicketEvent as TicketEvent,
        TicketRef as TicketRef,
        Verified as Verified,
    )
    from .plugins import (
        PLUGIN_API_VERSION as PLUGIN_API_VERSION,
        make_plugin_manager as make_plugin_manager,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ticketscan' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
