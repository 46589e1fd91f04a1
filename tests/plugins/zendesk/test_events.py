"""Zendesk webhook bodies parse into TicketEvents, or are refused naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from ticketscan.errors import EventError
from ticketscan_zendesk.events import RECOMMENDED_TRIGGER_BODY, TRIGGER_TYPE, prune
from ticketscan_zendesk.source import ZendeskSource

SECRET = "AKIAQ3ZL7XKMN2PTRW4Y"


def source(**settings: Any) -> ZendeskSource:
    return ZendeskSource(ZendeskSource.Settings.model_validate({"subdomain": "acme", **settings}))


def envelope(
    kind: str, event: dict[str, Any] | None = None, ticket: str = "5158"
) -> dict[str, Any]:
    """An event-subscription body shaped like Zendesk's documented ticket events."""
    return {
        "account_id": 12514403,
        "detail": {
            "actor_id": "8447388090494",
            "assignee_id": "8447388090494",
            "brand_id": "8447346621310",
            "created_at": "2025-01-08T10:12:07Z",
            "description": f"my key is {SECRET}",
            "external_id": None,
            "form_id": "8646151517822",
            "group_id": "8447320466430",
            "id": ticket,
            "is_public": True,
            "organization_id": "8447346622334",
            "priority": "LOW",
            "requester_id": "8447388090494",
            "status": "OPEN",
            "subject": "help",
            "submitter_id": "8447388090494",
            "tags": ["tag_1"],
            "type": "TASK",
            "updated_at": "2025-01-08T10:12:07Z",
            "via": {"channel": "web_service"},
        },
        "event": event or {},
        "id": "cbe4028c-7239-495d-b020-f22348516046",
        "subject": f"zen:ticket:{ticket}",
        "time": "2025-01-08T10:12:07.672717030Z",
        "type": f"zen:event-type:{kind}",
        "zendesk_event_version": "2022-11-06",
    }


def test_every_webhook_fixture_parses_or_is_refused_naming_the_field(fixtures_dir: Path) -> None:
    folder = fixtures_dir / "zendesk" / "webhooks"
    bodies = sorted(folder.glob("*.body.json"))
    assert bodies, "no Zendesk webhook fixtures found"
    for body_file in bodies:
        payload = json.loads(body_file.read_text())
        headers_file = body_file.with_name(body_file.name.replace(".body.", ".headers."))
        headers = {h["key"]: h["value"] for h in json.loads(headers_file.read_text())}
        # the only real delivery recorded is a user event: refused, naming `type`
        with pytest.raises(EventError) as err:
            source().parse_event(payload, headers)
        assert err.value.field == "type"
        assert "user.deleted" in str(err.value) and "not a ticket event" in str(err.value)


def test_recorded_invocation_payload_is_refused_naming_the_field(fixtures_dir: Path) -> None:
    recording = (
        fixtures_dir / "zendesk" / "api-recordings-zenpy" / "webhook_invocation_attempts.200.json"
    )
    requests = [
        a["request"] for a in json.loads(recording.read_text())["attempts"] if a.get("request")
    ]
    assert requests
    for request in requests:
        payload = request["payload"]
        payload = json.loads(payload) if isinstance(payload, str) else payload
        headers = {h["key"]: h["value"] for h in request["headers"]}
        assert ZendeskSource.claims(payload, headers)
        with pytest.raises(EventError) as err:
            source().parse_event(payload, headers)
        assert err.value.field == "type"


def test_comment_added_targets_the_comment_and_keeps_no_text() -> None:
    body = envelope(
        "ticket.comment_added",
        {
            "comment": {
                "author": {"id": "1", "is_staff": False, "name": "Customer"},
                "body": f"here: {SECRET}",
                "id": "9876543210",
                "is_public": False,
            }
        },
    )
    event = source().parse_event(
        body, {"X-Zendesk-Webhook-Invocation-Id": "01HANA2B5D5W9XSJS3NE5SQA1J"}
    )
    assert event.system == "zendesk"
    assert event.ticket.key == "5158"
    assert event.ticket.url == "https://acme.zendesk.com/agent/tickets/5158"
    assert event.comment_ids == ["9876543210"]
    assert event.delivery_id == "01HANA2B5D5W9XSJS3NE5SQA1J"
    assert event.received_at is not None and event.received_at.microsecond == 672717
    assert event.skip_reason is None
    dumped = event.model_dump_json()
    assert SECRET not in dumped and "Customer" not in dumped


def test_delivery_id_falls_back_to_the_event_id() -> None:
    event = source().parse_event(envelope("ticket.created"), {})
    assert event.delivery_id == "zendesk-event:cbe4028c-7239-495d-b020-f22348516046"
    assert (event.comment_ids, event.attachment_ids, event.changed_fields) == ([], [], [])


def test_attachment_linked_targets_the_attachment() -> None:
    body = envelope(
        "ticket.attachment_linked_to_comment",
        {
            "attachment": {
                "content_type": "text/plain",
                "content_url": "https://acme.zendesk.com/attachments/token/x/?name=a.txt",
                "filename": "a.txt",
                "id": "555",
                "is_public": True,
            },
            "comment": {"id": "777"},
        },
    )
    event = source().parse_event(body, {})
    assert event.attachment_ids == ["555"]
    assert event.comment_ids == ["777"]


@pytest.mark.parametrize(
    ("kind", "event", "changed"),
    [
        ("ticket.description_changed", {"current": SECRET, "previous": "x"}, ["description"]),
        ("ticket.subject_changed", {"current": SECRET, "previous": "x"}, ["subject"]),
        (
            "ticket.custom_field_changed",
            {
                "current": SECRET,
                "previous": None,
                "custom_field": {"id": "360001", "title": "Notes", "type": "text"},
            },
            ["custom_field:360001"],
        ),
    ],
)
def test_field_changes_target_the_field(
    kind: str, event: dict[str, Any], changed: list[str]
) -> None:
    parsed = source().parse_event(envelope(kind, event), {})
    assert parsed.changed_fields == changed
    assert SECRET not in parsed.model_dump_json()


@pytest.mark.parametrize(
    "kind",
    [
        "ticket.soft_deleted",
        "ticket.permanently_deleted",
        "ticket.comment_redacted",
        "ticket.comment_made_private",
    ],
)
def test_removals_are_skipped(kind: str) -> None:
    event = source().parse_event(envelope(kind), {})
    assert event.skip_reason and "nothing new to scan" in event.skip_reason


def test_status_change_is_skipped_incrementally_but_rescanned_in_ticket_scope() -> None:
    body = envelope("ticket.status_changed", {"current": "SOLVED", "previous": "OPEN"})
    assert source().parse_event(body, {}).skip_reason
    whole = source(scope="ticket").parse_event(body, {})
    assert whole.skip_reason is None and whole.ticket.key == "5158"


def test_recommended_trigger_body_parses_once_substituted() -> None:
    body = {
        k: v.replace("{{ticket.id}}", "4242")
        .replace("{{ticket.updated_at_with_timestamp}}", "May 5, 2025 at 10:38")
        .replace("{{ticket.via}}", "Web form")
        for k, v in RECOMMENDED_TRIGGER_BODY.items()
    }
    assert ZendeskSource.claims(body, {})
    event = source().parse_event(body, {"x-zendesk-webhook-invocation-id": "inv-1"})
    assert event.event_type == TRIGGER_TYPE
    assert event.ticket.key == "4242"
    assert event.delivery_id == "inv-1"
    assert event.comment_ids == []


def test_unsubstituted_placeholder_names_the_field() -> None:
    with pytest.raises(EventError) as err:
        source().parse_event(dict(RECOMMENDED_TRIGGER_BODY), {})
    assert err.value.field == "ticket_id"
    assert "placeholder" in str(err.value)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"type": "zen:event-type:ticket.created", "subject": "zen:ticket:1", "detail": "oops"},
            "detail",
        ),
        (
            {"type": "zen:event-type:ticket.created", "subject": "zen:ticket:x", "detail": {}},
            "detail.id",
        ),
        (
            {
                "type": "zen:event-type:ticket.created",
                "subject": "zen:ticket:1",
                "detail": {"id": "2"},
            },
            "detail.id",
        ),
        ({"type": "zen:event-type:ticket.created", "subject": "zen:ticket:1", "time": 5}, "time"),
        (
            {"type": "zen:event-type:ticket.comment_added", "subject": "zen:ticket:1", "event": {}},
            "event.comment.id",
        ),
        (
            {
                "type": "zen:event-type:ticket.comment_added",
                "subject": "zen:ticket:1",
                "event": {"comment": {"id": True}},
            },
            "event.comment.id",
        ),
        (
            {
                "type": "zen:event-type:ticket.attachment_linked_to_comment",
                "subject": "zen:ticket:1",
                "event": {"attachment": []},
            },
            "event.attachment",
        ),
        ({"type": 7}, "type"),
        ({"type": "something:else"}, "type"),
        ({"hello": "world"}, "type"),
        ({"source": "zendesk", "ticket_id": "-3"}, "ticket_id"),
        ({"source": "zendesk", "ticket_id": 12, "comment_id": "abc"}, "comment_id"),
        ({"source": "jira", "ticket_id": 12}, "source"),
        ({"source": "zendesk", "ticket_id": 12, "updated_at": 3}, "updated_at"),
    ],
)
def test_malformed_bodies_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(EventError) as err:
        source().parse_event(body, {})
    assert err.value.field == field


def test_claims_and_is_configured() -> None:
    assert ZendeskSource.claims(envelope("ticket.created"), {})
    assert ZendeskSource.claims({"anything": 1}, {"X-Zendesk-Webhook-Id": "01H"})
    assert not ZendeskSource.claims({"webhookEvent": "jira:issue_created"}, {})
    assert ZendeskSource.is_configured({"subdomain": "acme"})
    assert ZendeskSource.is_configured({"url": "https://acme.zendesk.com"})
    assert not ZendeskSource.is_configured({"email": "a@b.c"})


def test_prune_keeps_ids_only() -> None:
    body = envelope(
        "ticket.comment_added", {"comment": {"id": "1", "body": SECRET, "is_public": True}}
    )
    kept = prune(body)
    assert kept["event"] == {"comment": {"id": "1", "is_public": True}}
    assert "description" not in kept["detail"] and "subject" not in kept["detail"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "type",
        "subject",
        "detail",
        "event",
        "time",
        "id",
        "source",
        "ticket_id",
        "comment_id",
        "attachment_id",
        "updated_at",
    ]
)
kinds = st.sampled_from(
    [
        "zen:event-type:ticket.created",
        "zen:event-type:ticket.comment_added",
        "zen:event-type:ticket.attachment_linked_to_comment",
        "zen:event-type:ticket.custom_field_changed",
        "zen:event-type:ticket.status_changed",
        "zen:event-type:user.deleted",
        TRIGGER_TYPE,
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.dictionaries(keys, json_values, max_size=8),
    kind=st.none() | kinds,
    subject=st.none() | st.from_regex(r"zen:ticket:[0-9]{1,5}", fullmatch=True),
)
def test_parsing_arbitrary_json_raises_nothing_but_event_error(
    body: dict[str, Any], kind: str | None, subject: str | None
) -> None:
    if kind is not None:
        body["type"] = kind
    if subject is not None:
        body["subject"] = subject
    try:
        event = source().parse_event(body, {})
    except EventError as exc:
        assert exc.field
    else:
        assert event.ticket.key.isdigit()
