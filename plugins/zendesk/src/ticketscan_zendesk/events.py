"""Zendesk webhook bodies → :class:`~ticketscan.models.TicketEvent`.

Two kinds of webhook reach ticketscan:

* **Event-subscription webhooks** (Zendesk Admin Center → Webhooks → "Zendesk events"): the body
  is Zendesk's own envelope ``{"type": "zen:event-type:ticket.comment_added", "subject":
  "zen:ticket:1234", "detail": {...ticket...}, "event": {...}, "id", "time", "account_id",
  "zendesk_event_version"}``.
* **Trigger- or automation-driven webhooks** ("Trigger or automation" subscription): the admin
  writes the JSON body in the trigger's "Notify by webhook" action. ticketscan recommends
  :data:`RECOMMENDED_TRIGGER_BODY` (see docs/zendesk.md); it carries ids only, never text.

Parsing never keeps ticket text: the stored ``payload`` is pruned to ids and event metadata
(:func:`prune`), because webhook bodies carry comment bodies and descriptions — the very text a
secret was pasted into — and the TicketEvent ends up in ``manifest.json``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ticketscan.errors import EventError
from ticketscan.models import TicketEvent, TicketRef

__all__ = [
    "EVENT_PREFIX",
    "RECOMMENDED_TRIGGER_BODY",
    "SCAN_EVENTS",
    "SKIP_EVENTS",
    "TRIGGER_TYPE",
    "looks_like_zendesk",
    "parse_webhook",
]

EVENT_PREFIX = "zen:event-type:"
TRIGGER_TYPE = "ticketscan:zendesk-trigger"

#: What ticketscan asks admins to put in a trigger's "Notify by webhook" JSON body.
RECOMMENDED_TRIGGER_BODY: dict[str, str] = {
    "source": "zendesk",
    "type": TRIGGER_TYPE,
    "ticket_id": "{{ticket.id}}",
    "updated_at": "{{ticket.updated_at_with_timestamp}}",
    "via": "{{ticket.via}}",
}

#: Event types whose change can hold new text, and what an incremental scan fetches for them.
SCAN_EVENTS: dict[str, str] = {
    "ticket.created": "ticket",
    "ticket.comment_added": "comment",
    "ticket.attachment_linked_to_comment": "attachment",
    "ticket.description_changed": "description",
    "ticket.subject_changed": "subject",
    "ticket.custom_field_changed": "field",
    "ticket.merged": "ticket",
    "ticket.undeleted": "ticket",
}

#: Event types that remove or hide content: nothing to scan, ever.
SKIP_EVENTS: frozenset[str] = frozenset(
    {
        "ticket.soft_deleted",
        "ticket.permanently_deleted",
        "ticket.comment_redacted",
        "ticket.attachment_redacted_from_comment",
        "ticket.comment_made_private",
        "ticket.marked_as_spam",
    }
)

_ID = re.compile(r"^[0-9]{1,20}$")
_SUBJECT = re.compile(r"^zen:ticket:([0-9]{1,20})$")
_PLACEHOLDER = re.compile(r"\{\{.*\}\}")

# what ``prune`` keeps of an event-subscription body (everything else may hold ticket text)
_KEEP_TOP = ("type", "id", "subject", "time", "account_id", "zendesk_event_version")
_KEEP_DETAIL = (
    "id",
    "actor_id",
    "brand_id",
    "group_id",
    "organization_id",
    "requester_id",
    "form_id",
    "status",
    "priority",
    "type",
    "is_public",
    "created_at",
    "updated_at",
)


def looks_like_zendesk(payload: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    """True for an event-subscription envelope, ticketscan's trigger body, or Zendesk headers."""
    kind = payload.get("type")
    if isinstance(kind, str) and (kind.startswith(EVENT_PREFIX) or kind == TRIGGER_TYPE):
        return True
    if payload.get("source") == "zendesk":
        return True
    lowered = {k.lower(): v for k, v in headers.items()}
    return "x-zendesk-webhook-id" in lowered or lowered.get("user-agent") == "Zendesk Webhook"


def _id(value: Any, field: str) -> str:
    """A Zendesk numeric id given as int or string; anything else names the field."""
    if isinstance(value, bool):
        raise EventError(f"must be a numeric Zendesk id, got {type(value).__name__}", field=field)
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if _ID.match(text) and int(text) > 0:
            return text
        if _PLACEHOLDER.search(text):
            raise EventError(
                "holds an unsubstituted Zendesk placeholder",
                field=field,
                hint="send the webhook from a trigger (the 'Test webhook' button does not "
                "substitute placeholders)",
            )
        raise EventError("must be a numeric Zendesk id", field=field)
    if value is None:
        raise EventError("is missing", field=field)
    raise EventError(f"must be a numeric Zendesk id, got {type(value).__name__}", field=field)


def _mapping(payload: Mapping[str, Any], key: str, field: str) -> Mapping[str, Any]:
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EventError(f"must be a JSON object, got {type(value).__name__}", field=field)
    return value


def _time(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EventError("must be an ISO 8601 timestamp", field=field)
    text = value.strip()
    # Zendesk sends nanoseconds ("2025-01-08T10:12:07.672717030Z"); keep microseconds
    text = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise EventError("must be an ISO 8601 timestamp", field=field) from None


def prune(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a body worth keeping: ids and metadata, never ticket or comment text."""
    kept: dict[str, Any] = {k: payload[k] for k in _KEEP_TOP if k in payload}
    detail = payload.get("detail")
    if isinstance(detail, Mapping):
        kept["detail"] = {k: detail[k] for k in _KEEP_DETAIL if k in detail}
    event = payload.get("event")
    if isinstance(event, Mapping):
        small: dict[str, Any] = {}
        for key in ("comment", "attachment", "custom_field"):
            value = event.get(key)
            if isinstance(value, Mapping):
                small[key] = {k: value[k] for k in ("id", "is_public") if k in value}
        if small:
            kept["event"] = small
    for key in ("source", "ticket_id", "comment_id", "attachment_id", "updated_at", "via"):
        if key in payload and key not in kept:
            kept[key] = payload[key]
    return kept


def _ticket_ref(ticket_id: str, base_url: str | None) -> TicketRef:
    url = f"{base_url.rstrip('/')}/agent/tickets/{ticket_id}" if base_url else None
    return TicketRef(system="zendesk", key=ticket_id, url=url)


def parse_webhook(
    payload: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    base_url: str | None = None,
    whole_ticket: bool = False,
) -> TicketEvent:
    """Parse one Zendesk webhook body (headers lower-cased) into a TicketEvent."""
    delivery = ""
    for name, value in headers.items():
        if name.lower() == "x-zendesk-webhook-invocation-id" and isinstance(value, str):
            delivery = value.strip()
    kind = payload.get("type")
    if isinstance(kind, str) and kind.startswith(EVENT_PREFIX):
        return _parse_subscription(payload, kind, delivery, base_url, whole_ticket)
    if kind == TRIGGER_TYPE or payload.get("source") == "zendesk" or "ticket_id" in payload:
        return _parse_trigger(payload, delivery, base_url)
    if kind is None:
        raise EventError(
            "is missing: not a Zendesk event-subscription body (type 'zen:event-type:...') "
            "nor ticketscan's trigger body (with 'ticket_id')",
            field="type",
            hint="see docs/zendesk.md for the recommended trigger body",
        )
    if not isinstance(kind, str):
        raise EventError(f"must be a string, got {type(kind).__name__}", field="type")
    raise EventError(f"unknown Zendesk webhook type {kind[:80]!r}", field="type")


def _parse_subscription(
    payload: Mapping[str, Any], kind: str, delivery: str, base_url: str | None, whole: bool
) -> TicketEvent:
    name = kind[len(EVENT_PREFIX) :]
    if not name.startswith("ticket."):
        raise EventError(
            f"{kind!r} is not a ticket event; ticketscan scans tickets only",
            field="type",
            hint="subscribe the webhook to 'zen:event-type:ticket.*' events only",
        )
    detail = _mapping(payload, "detail", "detail")
    event = _mapping(payload, "event", "event")
    subject = payload.get("subject")
    ticket_id: str | None = None
    if isinstance(subject, str) and _SUBJECT.match(subject):
        ticket_id = _SUBJECT.match(subject).group(1)  # type: ignore[union-attr]
    if "id" in detail or ticket_id is None:
        from_detail = _id(detail.get("id"), "detail.id")
        if ticket_id is not None and from_detail != ticket_id:
            raise EventError(
                f"ticket {from_detail} does not match subject {subject!r}", field="detail.id"
            )
        ticket_id = from_detail
    received = _time(payload.get("time"), "time")
    comment_ids: list[str] = []
    attachment_ids: list[str] = []
    changed: list[str] = []
    skip: str | None = None
    if name in SKIP_EVENTS:
        skip = f"zendesk {name}: content was removed or hidden, nothing new to scan"
    elif name not in SCAN_EVENTS and not whole:
        skip = f"zendesk {name}: no new text to scan (set scope = 'ticket' to rescan anyway)"
    else:
        target = SCAN_EVENTS.get(name, "ticket")
        if target == "comment":
            comment = _mapping(event, "comment", "event.comment")
            comment_ids.append(_id(comment.get("id"), "event.comment.id"))
        elif target == "attachment":
            attachment = _mapping(event, "attachment", "event.attachment")
            attachment_ids.append(_id(attachment.get("id"), "event.attachment.id"))
            comment = _mapping(event, "comment", "event.comment")
            if "id" in comment:
                comment_ids.append(_id(comment.get("id"), "event.comment.id"))
        elif target in ("description", "subject"):
            changed.append(target)
        elif target == "field":
            field = _mapping(event, "custom_field", "event.custom_field")
            changed.append(f"custom_field:{_id(field.get('id'), 'event.custom_field.id')}")
    event_id = payload.get("id")
    return TicketEvent(
        system="zendesk",
        event_type=kind,
        ticket=_ticket_ref(ticket_id, base_url),
        comment_ids=comment_ids,
        attachment_ids=attachment_ids,
        changed_fields=changed,
        delivery_id=delivery or (f"zendesk-event:{event_id}" if isinstance(event_id, str) else ""),
        received_at=received,
        skip_reason=skip,
        payload=prune(payload),
    )


def _parse_trigger(payload: Mapping[str, Any], delivery: str, base_url: str | None) -> TicketEvent:
    source = payload.get("source")
    if source is not None and source != "zendesk":
        raise EventError(f"must be 'zendesk', got {str(source)[:40]!r}", field="source")
    ticket_id = _id(payload.get("ticket_id"), "ticket_id")
    comment_ids = []
    if payload.get("comment_id") not in (None, ""):
        comment_ids.append(_id(payload.get("comment_id"), "comment_id"))
    attachment_ids = []
    if payload.get("attachment_id") not in (None, ""):
        attachment_ids.append(_id(payload.get("attachment_id"), "attachment_id"))
    updated = payload.get("updated_at")
    if updated is not None and not isinstance(updated, str):
        raise EventError("must be a string", field="updated_at")
    return TicketEvent(
        system="zendesk",
        event_type=TRIGGER_TYPE,
        ticket=_ticket_ref(ticket_id, base_url),
        comment_ids=comment_ids,
        attachment_ids=attachment_ids,
        delivery_id=delivery,
        payload=prune(payload),
    )
