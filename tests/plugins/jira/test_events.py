"""Parsing Jira webhook bodies: every recorded payload in ../shared parses or is refused
with an EventError naming the field; the changelog decides what an update scans."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from ticketscan.errors import EventError
from ticketscan_jira.source import JiraSettings, JiraSource

WEBHOOKS = "jira/webhooks"


def _source(**settings: Any) -> JiraSource:
    return JiraSource(JiraSettings.model_validate(settings))


def _load(fixtures_dir: Path, name: str) -> dict[str, Any]:
    matches = list((fixtures_dir / WEBHOOKS).rglob(name))
    assert matches, name
    return json.loads(matches[0].read_text(encoding="utf-8"))


def _all_payloads(fixtures_dir: Path) -> list[Path]:
    return sorted((fixtures_dir / WEBHOOKS).rglob("*.json"))


def test_every_recorded_webhook_parses(fixtures_dir: Path) -> None:
    paths = _all_payloads(fixtures_dir)
    assert len(paths) >= 12
    for path in paths:
        payload = json.loads(path.read_text(encoding="utf-8"))
        assert JiraSource.claims(payload, {}), path.name
        event = _source().parse_event(payload, {"x-atlassian-webhook-identifier": "d-1"})
        assert event.system == "jira"
        assert event.ticket.key == payload["issue"]["key"]
        assert event.delivery_id == "d-1"


def test_comment_created_names_the_comment(fixtures_dir: Path) -> None:
    event = _source().parse_event(_load(fixtures_dir, "webhook-cloud-comment-created.json"))
    assert event.event_type == "comment_created"
    assert event.comment_ids == ["10019"]
    assert event.skip_reason is None
    assert event.ticket.project == "TES"


def test_comment_updated_names_the_comment(fixtures_dir: Path) -> None:
    event = _source().parse_event(_load(fixtures_dir, "webhook-cloud-comment-updated.json"))
    assert event.comment_ids == ["10019"]


@pytest.mark.parametrize(
    "name", ["webhook-cloud-comment-deleted.json", "webhook-issue-deleted.json"]
)
def test_delete_events_are_recorded_as_skipped(fixtures_dir: Path, name: str) -> None:
    event = _source().parse_event(_load(fixtures_dir, name))
    assert event.skip_reason and "nothing left to scan" in event.skip_reason


def test_attachment_created_names_the_attachment(fixtures_dir: Path) -> None:
    event = _source().parse_event(_load(fixtures_dir, "attachment_created.json"))
    assert event.attachment_ids == ["10000"]
    assert event.ticket.key == "BUG-15"


def test_attachment_created_without_issue_is_refused_naming_issue(fixtures_dir: Path) -> None:
    payload = _load(fixtures_dir, "attachment_created.json")
    del payload["issue"]
    with pytest.raises(EventError) as err:
        _source().parse_event(payload)
    assert err.value.field == "issue"


def test_description_edit_scans_the_description(fixtures_dir: Path) -> None:
    event = _source().parse_event(_load(fixtures_dir, "webhook-issue-updated-edited.json"))
    assert event.changed_fields == ["description"]
    assert event.skip_reason is None


def test_assignee_change_scans_nothing_when_incremental(fixtures_dir: Path) -> None:
    payload = _load(fixtures_dir, "webhook-issue-updated-assigned.json")
    event = _source().parse_event(payload)
    assert event.skip_reason and "assignee" in event.skip_reason
    assert _source(incremental=False).parse_event(payload).skip_reason is None


def test_custom_field_change_is_scanned_only_when_configured(fixtures_dir: Path) -> None:
    payload = _load(fixtures_dir, "webhook-cloud-issue-updated-custom-field.json")
    assert _source().parse_event(payload).skip_reason
    event = _source(custom_fields=["customfield_10072"]).parse_event(payload)
    assert event.skip_reason is None
    assert event.changed_fields == ["customfield_10072"]


def test_attachment_change_in_changelog_scans_attachments(fixtures_dir: Path) -> None:
    payload = _load(fixtures_dir, "webhook-issue-updated-attachments.json")
    event = _source().parse_event(payload)
    assert "attachment" in event.changed_fields
    payload["changelog"]["items"][0]["to"] = "10055"
    assert _source().parse_event(payload).attachment_ids == ["10055"]


def test_server_issue_commented_names_the_comment(fixtures_dir: Path) -> None:
    event = _source().parse_event(
        _load(fixtures_dir, "webhook-server-issue-updated-commented-2.json")
    )
    assert event.comment_ids == ["10118"]
    assert event.skip_reason is None


def test_ticket_url_uses_the_configured_base(fixtures_dir: Path) -> None:
    payload = _load(fixtures_dir, "webhook-cloud-comment-created.json")
    event = _source(url="https://acme.atlassian.net/").parse_event(payload)
    assert event.ticket.url == "https://acme.atlassian.net/browse/TES-41"
    assert _source().parse_event(payload).ticket.url == (
        "https://some-instance-test.atlassian.net/browse/TES-41"
    )


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("webhookEvent"), "webhookEvent"),
        (lambda p: p.__setitem__("webhookEvent", 7), "webhookEvent"),
        (lambda p: p.__setitem__("webhookEvent", "worklog_created"), "webhookEvent"),
        (lambda p: p.pop("issue"), "issue"),
        (lambda p: p.__setitem__("issue", []), "issue"),
        (lambda p: p["issue"].pop("key"), "issue.key"),
        (lambda p: p["issue"].__setitem__("key", "../etc"), "issue.key"),
        (lambda p: p.pop("comment"), "comment"),
        (lambda p: p["comment"].pop("id"), "comment.id"),
        (lambda p: p["comment"].__setitem__("id", "10019; rm"), "comment.id"),
    ],
)
def test_malformed_comment_events_name_the_field(
    fixtures_dir: Path, mutate: Any, field: str
) -> None:
    payload = copy.deepcopy(_load(fixtures_dir, "webhook-cloud-comment-created.json"))
    mutate(payload)
    with pytest.raises(EventError) as err:
        _source().parse_event(payload)
    assert err.value.field == field
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.__setitem__("changelog", "x"), "changelog"),
        (lambda p: p["changelog"].__setitem__("items", {}), "changelog.items"),
        (lambda p: p["changelog"]["items"].append(3), "changelog.items[1]"),
        (lambda p: p["changelog"]["items"].append({}), "changelog.items[1].field"),
    ],
)
def test_malformed_changelogs_name_the_field(fixtures_dir: Path, mutate: Any, field: str) -> None:
    payload = copy.deepcopy(_load(fixtures_dir, "webhook-issue-updated-edited.json"))
    mutate(payload)
    with pytest.raises(EventError) as err:
        _source().parse_event(payload)
    assert err.value.field == field


def test_claims_jira_bodies_and_headers_only() -> None:
    assert JiraSource.claims({"webhookEvent": "jira:issue_created"}, {})
    assert JiraSource.claims({"webhookEvent": "comment_created"}, {})
    assert JiraSource.claims({}, {"x-atlassian-webhook-identifier": "1"})
    assert not JiraSource.claims({"type": "zen:event-type:ticket.created"}, {})
    assert not JiraSource.claims({"source": "files", "paths": ["."]}, {})


def test_is_configured_only_with_a_url() -> None:
    assert not JiraSource.is_configured({})
    assert not JiraSource.is_configured({"url": ""})
    assert JiraSource.is_configured({"url": "https://acme.atlassian.net"})


SMART_VALUES = {
    "{{now.millis}}": "1718000000000", "{{issue.id}}": "10040", "{{issue.key}}": "SUP-7",
    "{{comment.id}}": "10019", "{{fieldChange.field}}": "description",
    "{{fieldChange.fieldId}}": "description", "{{issue.attachment.last.id}}": "10500",
}


def test_documented_automation_bodies_parse(repo_root: Path) -> None:
    doc = (repo_root / "docs/jira.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```json\n")[1:]]
    bodies = [b for b in blocks if "{{issue.key}}" in b]
    assert len(bodies) == 4
    kinds = set()
    for body in bodies:
        for smart, value in SMART_VALUES.items():
            body = body.replace(smart, value)
        event = _source().parse_event(json.loads(body))
        assert event.ticket.key == "SUP-7"
        assert event.skip_reason is None
        kinds.add(event.event_type)
    assert kinds == {"jira:issue_created", "comment_created", "jira:issue_updated",
                     "attachment_created"}
