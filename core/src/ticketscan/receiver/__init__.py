"""The webhook receiver (``ticketscan serve``): authenticate, limit, publish to a transport.

Imported only by ``serve``/``worker``/``demo``: Starlette, uvicorn and prometheus-client never
slow down the other commands.
"""

from __future__ import annotations

from .app import DELIVERY_HEADERS, Metrics, create_app
from .auth import (
    Refusal,
    check_api_key,
    check_jira_signature,
    check_zendesk_signature,
    sign_jira,
    sign_zendesk,
)
from .settings import DEMO_JIRA_SECRET, ReceiverSettings, SourceAuth, receiver_settings

__all__ = [
    "DELIVERY_HEADERS",
    "DEMO_JIRA_SECRET",
    "Metrics",
    "ReceiverSettings",
    "Refusal",
    "SourceAuth",
    "check_api_key",
    "check_jira_signature",
    "check_zendesk_signature",
    "create_app",
    "receiver_settings",
    "sign_jira",
    "sign_zendesk",
]
