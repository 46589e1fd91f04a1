"""Fetching tickets from the local fake Jira through the real atlassian-python-api client.

The fake (tests/fakes/jira.py) answers with Jira's real response shapes; see its docstring
for why a fake is used. Each test runs against both flavors where the behaviour is shared:
Cloud (REST v3, ADF, Basic email:token) and Data Center (REST v2, wiki, Bearer PAT).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fakes.jira import FAKE_SECRETS, FakeJira
from ticketscan.errors import EXIT_RETRYABLE, SourceError
from ticketscan.models import Manifest, Part, TicketEvent
from ticketscan.steps import fetch_event
from ticketscan.testing import assert_no_secrets
from ticketscan_jira.source import JiraSource

MakeSource = Callable[..., JiraSource]
AWS_KEY, AWS_KEY_2, AWS_KEY_3 = (FAKE_SECRETS[k] for k in ("aws-1", "aws-2", "aws-3"))
GITHUB_PAT = FAKE_SECRETS["github-pat"]


def _event(source: JiraSource, kind: str, key: str = "SEC-42", **extra: Any) -> TicketEvent:
    payload: dict[str, Any] = {"webhookEvent": kind, "timestamp": 1,
                               "issue": {"id": "1", "key": key}}
    payload.update(extra)
    return source.parse_event(payload, {"x-atlassian-webhook-identifier": f"d-{kind}"})


def _fetch(source: JiraSource, event: TicketEvent, tmp_path: Path) -> Manifest:
    return fetch_event(source, event, tmp_path / "docs")


def _texts(manifest: Manifest, tmp_path: Path) -> dict[str, str]:
    return {d.path: (tmp_path / "docs" / d.text_path).read_text("utf-8")
            for d in manifest.documents}


def _ticket(fake: FakeJira) -> dict[str, str]:
    fake.add_issue("SEC-42", summary="VPN broken",
                   description=f"Hi,\nour key is {AWS_KEY}\nthanks",
                   environment="prod eu-west-1", custom={"customfield_10010": f"pat {GITHUB_PAT}"})
    ids = {"c1": fake.add_comment("SEC-42", "first comment"),
           "c2": fake.add_comment("SEC-42", f"here:\n\n{AWS_KEY_2}",
                                  visibility={"type": "role", "value": "Developers"}),
           "a1": fake.add_attachment("SEC-42", "app.env", f"X=1\nAWS={AWS_KEY_3}\n".encode())}
    return ids


def test_issue_created_fetches_every_part(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    ids = _ticket(fake_jira)
    source = make_source(fake_jira, custom_fields=["customfield_10010"])
    manifest = _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    texts = _texts(manifest, tmp_path)
    assert texts["SEC-42/summary"] == "VPN broken"
    assert texts["SEC-42/description"].split("\n")[1] == f"our key is {AWS_KEY}"
    assert texts["SEC-42/environment"] == "prod eu-west-1"
    assert GITHUB_PAT in texts["SEC-42/field/customfield_10010"]
    assert texts[f"SEC-42/comment/{ids['c1']}"] == "first comment"
    assert texts[f"SEC-42/comment/{ids['c2']}"].split("\n")[2] == AWS_KEY_2
    assert AWS_KEY_3 in texts[f"SEC-42/attachment/{ids['a1']}/app.env"]
    by_path = {d.path: d for d in manifest.documents}
    assert by_path[f"SEC-42/comment/{ids['c1']}"].public is True
    assert by_path[f"SEC-42/comment/{ids['c2']}"].public is False
    assert by_path["SEC-42/description"].part is Part.DESCRIPTION
    assert manifest.skipped == []
    api = "/rest/api/3/" if fake_jira.flavor == "cloud" else "/rest/api/2/"
    assert all(r.path.startswith((api, "/fake-media/", "/secure/attachment/"))
               for r in fake_jira.requests)


def test_cloud_uses_basic_auth_and_server_a_bearer_token(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_jira.add_issue("SEC-42")
    source = make_source(fake_jira)
    _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    auth = fake_jira.requests[0].headers["Authorization"]
    assert auth.startswith("Basic " if fake_jira.flavor == "cloud" else "Bearer ")


def test_all_comments_are_fetched_across_pages(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_jira.add_issue("SEC-42")
    for i in range(123):
        fake_jira.add_comment("SEC-42", f"comment number {i}")
    source = make_source(fake_jira, page_size=100)  # the fake caps pages at 50, like Jira may
    manifest = _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    comments = [d for d in manifest.documents if d.part is Part.COMMENT]
    assert len(comments) == 123
    pages = fake_jira.requests_to(r"/issue/SEC-42/comment$")
    assert [p.query["startAt"] for p in pages] == [["0"], ["50"], ["100"]]


def test_max_comments_truncates_and_says_so(
    fake_cloud: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_cloud.add_issue("SEC-42")
    for i in range(5):
        fake_cloud.add_comment("SEC-42", f"c{i}")
    source = make_source(fake_cloud, max_comments=3)
    manifest = _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    assert len([d for d in manifest.documents if d.part is Part.COMMENT]) == 3
    assert manifest.skipped[0].truncated


def test_comment_event_scans_only_that_comment(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    ids = _ticket(fake_jira)
    source = make_source(fake_jira)
    event = _event(source, "comment_created", comment={"id": ids["c2"]})
    manifest = _fetch(source, event, tmp_path)
    assert [d.path for d in manifest.documents] == [f"SEC-42/comment/{ids['c2']}"]
    assert not fake_jira.requests_to(r"/issue/SEC-42/comment$")


def test_whole_ticket_setting_scans_everything_on_a_comment_event(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    ids = _ticket(fake_jira)
    source = make_source(fake_jira, incremental=False)
    manifest = _fetch(source, _event(source, "comment_created", comment={"id": ids["c1"]}),
                      tmp_path)
    paths = {d.path for d in manifest.documents}
    assert {"SEC-42/summary", "SEC-42/description", f"SEC-42/comment/{ids['c2']}",
            f"SEC-42/attachment/{ids['a1']}/app.env"} <= paths


def test_attachment_event_scans_only_that_attachment(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    ids = _ticket(fake_jira)
    other = fake_jira.add_attachment("SEC-42", "other.txt", b"nothing here")
    source = make_source(fake_jira)
    manifest = _fetch(source, _event(source, "attachment_created", attachment={"id": other}),
                      tmp_path)
    assert [d.path for d in manifest.documents] == [f"SEC-42/attachment/{other}/other.txt"]
    assert ids["a1"] not in json.dumps([r.path for r in fake_jira.requests])


def test_description_edit_scans_the_description_only(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    _ticket(fake_jira)
    source = make_source(fake_jira)
    event = _event(source, "jira:issue_updated",
                   changelog={"items": [{"field": "description", "fieldId": "description",
                                         "fieldtype": "jira"}]})
    manifest = _fetch(source, event, tmp_path)
    assert [d.path for d in manifest.documents] == ["SEC-42/description"]


def test_history_keeps_old_values(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    _ticket(fake_jira)
    history = fake_jira.add_history("SEC-42", "description", f"old: {AWS_KEY_2}", "cleaned")
    fake_jira.add_history("SEC-42", "status", "Open", "Done")
    source = make_source(fake_jira, include_history=True)
    manifest = _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    texts = _texts(manifest, tmp_path)
    assert texts[f"SEC-42/history/{history}/description"] == f"old: {AWS_KEY_2}"
    assert not any("/history/" in p and "status" in p for p in texts)
    without = make_source(fake_jira)
    manifest = fetch_event(without, _event(without, "jira:issue_created"), tmp_path / "b")
    assert not [d for d in manifest.documents if d.part is Part.HISTORY]


def test_changelog_pages_are_followed_on_cloud(
    fake_cloud: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_cloud.add_issue("SEC-42")
    for i in range(7):
        fake_cloud.add_history("SEC-42", "summary", f"old summary {i}", "x")
    source = make_source(fake_cloud, include_history=True, page_size=3)
    manifest = _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    assert len([d for d in manifest.documents if d.part is Part.HISTORY]) == 7
    assert len(fake_cloud.requests_to(r"/changelog$")) == 3


# ------------------------------------------------------------------------------ errors


def test_deleted_ticket_is_skipped(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    source = make_source(fake_jira)
    manifest = _fetch(source, _event(source, "jira:issue_created", key="GONE-1"), tmp_path)
    assert manifest.documents == []
    assert "404" in manifest.skipped[0].reason


def test_deleted_comment_is_skipped(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_jira.add_issue("SEC-42")
    source = make_source(fake_jira)
    manifest = _fetch(source, _event(source, "comment_created", comment={"id": "99999"}),
                      tmp_path)
    assert manifest.skipped[0].path == "SEC-42/comment/99999"


def test_attachment_deleted_meanwhile_is_skipped(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    ids = _ticket(fake_jira)
    fake_jira.fail("GET", r"(/attachment/content/|/secure/attachment/)", 404)
    source = make_source(fake_jira)
    manifest = _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    skipped = {s.path: s.reason for s in manifest.skipped}
    assert "404" in skipped[f"SEC-42/attachment/{ids['a1']}/app.env"]


def test_401_names_the_credential(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_jira.add_issue("SEC-42")
    source = make_source(fake_jira, token="wrong-token-value-123")
    with pytest.raises(SourceError) as err:
        _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    message = str(err.value)
    assert "401" in message and "sources.jira.token" in message
    assert "wrong-token-value-123" not in message
    assert err.value.exit_code == EXIT_RETRYABLE


def test_403_names_the_permission(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_jira.add_issue("SEC-42")
    fake_jira.fail("GET", r"/issue/SEC-42$", 403)
    source = make_source(fake_jira)
    with pytest.raises(SourceError, match="Browse projects"):
        _fetch(source, _event(source, "jira:issue_created"), tmp_path)


def test_429_honours_retry_after_then_succeeds(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_jira.add_issue("SEC-42", summary="hello")
    fake_jira.fail("GET", r"/issue/SEC-42$", 429, times=2, retry_after="0.01")
    waits: list[float] = []
    source = make_source(fake_jira, retries=3, max_backoff=5)
    event = _event(source, "jira:issue_created")
    from ticketscan_jira import client as client_module

    original = client_module.JiraClient.__init__

    def init(self: Any, settings: Any, *, sleep: Any = None) -> None:
        original(self, settings, sleep=waits.append)

    client_module.JiraClient.__init__ = init  # type: ignore[method-assign]
    try:
        manifest = _fetch(source, event, tmp_path)
    finally:
        client_module.JiraClient.__init__ = original  # type: ignore[method-assign]
    assert waits == [0.01, 0.01]
    assert [d.path for d in manifest.documents] == ["SEC-42/summary"]
    assert len(fake_jira.requests_to(r"/issue/SEC-42$")) == 3


def test_persistent_429_is_a_retryable_error(
    fake_cloud: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_cloud.add_issue("SEC-42")
    fake_cloud.fail("GET", r"/issue/SEC-42$", 429, times=10, retry_after="0")
    source = make_source(fake_cloud, retries=2)
    with pytest.raises(SourceError, match="after 3 attempts") as err:
        _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    assert err.value.exit_code == EXIT_RETRYABLE
    assert len(fake_cloud.requests_to(r"/issue/SEC-42$")) == 3


def test_5xx_is_retried_with_backoff(
    fake_server: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_server.add_issue("SEC-42", summary="hello")
    fake_server.fail("GET", r"/issue/SEC-42$", 503, times=1)
    fake_server.fail("GET", r"/issue/SEC-42$", 500, times=1)
    source = make_source(fake_server, retries=2)
    manifest = _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    assert [d.path for d in manifest.documents] == ["SEC-42/summary"]


def test_timeouts_are_retried_then_reported(
    fake_cloud: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_cloud.add_issue("SEC-42")
    fake_cloud.fail("GET", r"/issue/SEC-42$", 200, times=5, delay=1.2)
    source = make_source(fake_cloud, timeout=1, retries=1)
    with pytest.raises(SourceError, match="timed out after 2 attempts"):
        _fetch(source, _event(source, "jira:issue_created"), tmp_path)


def test_oversized_attachment_is_skipped_with_reason(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_jira.add_issue("SEC-42")
    big = fake_jira.add_attachment("SEC-42", "dump.log", b"x" * 5000)
    liar = fake_jira.add_attachment("SEC-42", "liar.log", b"y" * 5000, size=10)
    source = make_source(fake_jira, max_attachment_bytes=1000)
    manifest = _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    skipped = {s.path: s.reason for s in manifest.skipped}
    assert "over max_attachment_bytes" in skipped[f"SEC-42/attachment/{big}/dump.log"]
    assert "exceeded" in skipped[f"SEC-42/attachment/{liar}/liar.log"]
    assert not fake_jira.requests_to(f"/{big}")  # not even downloaded


def test_cloud_download_follows_the_media_redirect(
    fake_cloud: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_cloud.add_issue("SEC-42")
    aid = fake_cloud.add_attachment("SEC-42", "a.txt", b"hello attachment")
    source = make_source(fake_cloud)
    _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    assert [r.path for r in fake_cloud.requests if aid in r.path] == [
        f"/rest/api/3/attachment/content/{aid}", f"/fake-media/{aid}"]


def test_attachment_names_cannot_escape(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path
) -> None:
    fake_jira.add_issue("SEC-42")
    aid = fake_jira.add_attachment("SEC-42", "../../etc/passwd", b"root:x:0:0")
    source = make_source(fake_jira)
    manifest = _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    (doc,) = manifest.documents[1:] or manifest.documents
    assert doc.path == f"SEC-42/attachment/{aid}/passwd"
    assert not (tmp_path / "etc").exists()


def test_errors_and_logs_never_hold_the_token(
    fake_cloud: FakeJira, make_source: MakeSource, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_cloud.add_issue("SEC-42")
    fake_cloud.fail("GET", r"/issue/SEC-42$", 500, times=10)
    source = make_source(fake_cloud, retries=1)
    caplog.set_level("DEBUG")
    with pytest.raises(SourceError) as err:
        _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    assert_no_secrets([str(err.value), caplog.text], [fake_cloud.token])


def test_debug_logs_never_hold_ticket_text(
    fake_jira: FakeJira, make_source: MakeSource, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """atlassian-python-api logs response bodies at DEBUG; the plugin silences those records."""
    _ticket(fake_jira)
    caplog.set_level("DEBUG")
    source = make_source(fake_jira, custom_fields=["customfield_10010"])
    manifest = _fetch(source, _event(source, "jira:issue_created"), tmp_path)
    assert len(manifest.documents) >= 6
    assert_no_secrets([caplog.text], [AWS_KEY, AWS_KEY_2, AWS_KEY_3, GITHUB_PAT])
