"""zendesk-remediate against the fake Zendesk through zenpy: requests, ticket content, safety.

FAKE, and why: no Zendesk server can run here (tests/fakes/zendesk.py, built from the response
shapes in ../shared/fixtures/zendesk). Findings come from the real zendesk source's documents.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ticketscan.models import sha256_text
from ticketscan.plugins import make_plugin_manager
from ticketscan.testing import assert_no_secrets

from tests.fakes.zendesk import REDACTED_CHAR, FakeZendesk
from tests.plugins.zendesk_remediate.remediate_helpers import (
    LIVE,
    aws_key,
    make_sink,
    publish,
    scan_ticket,
)

AW = r"^/api/v2/comment_redactions/\d+"
LEGACY = r"^/api/v2/tickets/\d+/comments/\d+/redact"


def writes(fake: FakeZendesk) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests if r.method != "GET"]


def statuses(report, action: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [a["status"] for a in report.actions if a["action"] == action]


def test_is_registered_as_a_sink_of_the_zendesk_distribution() -> None:
    plugins = make_plugin_manager()
    assert "zendesk-remediate" in plugins.names("sink")


def test_redacts_the_exact_secret_via_agent_workspace(fake: FakeZendesk, tmp_path: Path) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description="Printer is broken")
    body = f"Here is the config:\n\n  aws_access_key_id = {secret}\n  region = eu-west-1\nThanks"
    cid = fake.add_comment(ticket, body=body, public=False)
    original_html = fake.comment(cid)["html_body"]
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    assert len(findings) == 1
    fake.requests.clear()

    report = publish(make_sink(fake, redact_comments=True), findings, tmp_path)

    assert report.ok, report.failed
    assert writes(fake) == [("PUT", f"/api/v2/comment_redactions/{cid}.json")]
    sent = json.loads(fake.requests_to("PUT", AW)[0].body)
    assert sent["ticket_id"] == ticket
    # Zendesk's API takes the comment's html_body with <redact> around what to remove
    assert sent["html_body"] == original_html.replace(secret, f"<redact>{secret}</redact>")
    comment = fake.comment(cid)
    blank = REDACTED_CHAR * len(secret)
    for key in ("body", "plain_body", "html_body"):
        assert secret not in comment[key]
    assert comment["body"] == body.replace(secret, blank)  # the rest intact
    assert comment["html_body"] == original_html.replace(secret, blank)
    done = [a for a in report.actions if a["action"] == "redact"]
    assert done[0]["status"] == "done" and done[0]["api"] == "agent_workspace"
    assert done[0]["edit"]["at"] == "line 3, columns 23-42"
    assert statuses(report, "verify_after") == ["done"]


def test_legacy_api_sends_the_text_parameter(fake: FakeZendesk, tmp_path: Path) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description=f"my key {secret} please help")
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    fake.requests.clear()

    report = publish(
        make_sink(fake, redact_comments=True, redaction_api="legacy"), findings, tmp_path
    )

    assert report.ok
    first = fake.comments[ticket][0]["id"]
    assert writes(fake) == [("PUT", f"/api/v2/tickets/{ticket}/comments/{first}/redact.json")]
    # the older endpoint's only body is {"text": <the string to remove>} (OpenAPI
    # RedactStringInComment): the one request that must carry the secret
    assert json.loads(fake.requests_to("PUT", LEGACY)[0].body) == {"text": secret}
    assert secret not in fake.tickets[ticket]["description"]
    assert fake.comments[ticket][0]["body"] == f"my key {REDACTED_CHAR * 20} please help"


def test_auto_falls_back_to_the_legacy_api_when_agent_workspace_is_refused(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description=f"key {secret}")
    fake.fail("PUT", AW, status=403, times=5)
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    fake.requests.clear()

    report = publish(make_sink(fake, redact_comments=True), findings, tmp_path)

    assert report.ok
    assert [p for _, p in writes(fake)] == [
        f"/api/v2/comment_redactions/{fake.comments[ticket][0]['id']}.json",
        f"/api/v2/tickets/{ticket}/comments/{fake.comments[ticket][0]['id']}/redact.json",
    ]
    assert [a["api"] for a in report.actions if a["action"] == "redact"] == ["legacy"]
    assert secret not in fake.comments[ticket][0]["body"]


def test_agent_workspace_only_does_not_fall_back(fake: FakeZendesk, tmp_path: Path) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description=f"key {secret}")
    fake.fail("PUT", AW, status=403, times=5)
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)

    report = publish(
        make_sink(fake, redact_comments=True, redaction_api="agent_workspace"), findings, tmp_path
    )

    assert not report.ok
    reason = report.failed[findings[0].id]
    assert "403" in reason and "redact" in reason
    assert not fake.requests_to("PUT", LEGACY)
    assert secret in fake.comments[ticket][0]["body"]
    assert_no_secrets([report.model_dump_json()], [secret])


def test_secret_written_with_html_entities_is_redacted_in_the_html(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description="see below")
    encoded = "".join(f"&#x{ord(c):x};" for c in secret)
    cid = fake.add_comment(
        ticket,
        body="config inline",
        html_body=f'<div class="zd-comment"><p>config inline</p><pre>key = {encoded}</pre></div>',
    )
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    assert [f.location.path for f in findings] == [f"{ticket}/comment/{cid}/html"]
    fake.requests.clear()

    report = publish(make_sink(fake, redact_comments=True), findings, tmp_path)

    assert report.ok, report.failed
    sent = json.loads(fake.requests_to("PUT", AW)[0].body)["html_body"]
    assert f"<redact>{encoded}</redact>" in sent
    html_body = fake.comment(cid)["html_body"]
    assert encoded not in html_body
    assert f"<pre>key = {REDACTED_CHAR * len(secret)}</pre>" in html_body


def test_secret_in_a_link_target_gets_the_redact_attribute(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description="see link")
    link = f"https://example.com/cb?key={secret}"
    cid = fake.add_comment(
        ticket, body="the link", html_body=f'<div><p><a href="{link}">the link</a></p></div>'
    )
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    fake.requests.clear()

    report = publish(make_sink(fake, redact_comments=True), findings, tmp_path)

    assert report.ok, report.failed
    sent = json.loads(fake.requests_to("PUT", AW)[0].body)["html_body"]
    assert f'<a href="{link}" redact>' in sent
    assert secret not in fake.comment(cid)["html_body"]
    assert "the link" in fake.comment(cid)["html_body"]


def test_text_changed_meanwhile_changes_nothing_and_says_why(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description="hi")
    cid = fake.add_comment(ticket, body=f"key: {secret}")
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    # after the scan, the comment's text moved (an edit upstream of the secret)
    comment = fake.comment(cid)
    comment["body"] = comment["plain_body"] = f"note\nkey: {secret}"
    fake.requests.clear()

    report = publish(make_sink(fake, **LIVE), findings, tmp_path)

    assert writes(fake) == []
    assert report.ok  # nothing failed: there was nothing safe to do
    redact = next(a for a in report.actions if a["action"] == "redact")
    assert redact["status"] == "skipped"
    assert "no longer hashes" in redact["reason"]
    assert statuses(report, "internal_note") == ["skipped"]
    assert secret in fake.comment(cid)["body"]


def test_dry_run_is_the_default_and_shows_the_exact_edits(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description=f"first line\nkey={secret}")
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    fake.requests.clear()

    report = publish(make_sink(fake), findings, tmp_path)

    assert writes(fake) == []  # reads only
    redact = next(a for a in report.actions if a["action"] == "redact")
    assert redact["status"] == "planned"
    assert redact["reason"] == "redact_comments is off"
    assert redact["request"].startswith("PUT /api/v2/comment_redactions/")
    assert redact["edit"] == {
        "before": findings[0].redacted,
        "after": REDACTED_CHAR * len(secret),
        "at": "line 2, columns 5-24",
    }
    note = next(a for a in report.actions if a["action"] == "internal_note")
    assert note["status"] == "planned" and findings[0].fingerprint in note["body"]
    assert_no_secrets([report.model_dump_json()], [secret])


@pytest.mark.parametrize("how", ["--dry-run", "setting"])
def test_dry_run_overrides_every_switch(fake: FakeZendesk, tmp_path: Path, how: str) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description=f"key={secret}")
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    fake.requests.clear()
    if how == "setting":
        report = publish(make_sink(fake, dry_run=True, **LIVE), findings, tmp_path)
    else:
        report = publish(make_sink(fake, **LIVE), findings, tmp_path, dry_run=True)
    assert writes(fake) == []
    assert {a["status"] for a in report.actions} == {"planned"}
    assert secret in fake.comments[ticket][0]["body"]


def test_running_twice_changes_nothing_more(fake: FakeZendesk, tmp_path: Path) -> None:
    s1, s2 = aws_key(), aws_key()
    ticket = fake.add_ticket(description=f"key {s1}")
    fake.add_comment(ticket, body=f"and {s2}", public=True)
    findings = scan_ticket(fake, ticket, {"a": s1, "b": s2}, tmp_path)
    first = publish(make_sink(fake, **LIVE), findings, tmp_path)
    assert first.ok
    snapshot = json.dumps(fake.comments[ticket], sort_keys=True)
    fake.requests.clear()

    second = publish(make_sink(fake, **LIVE), findings, tmp_path)

    assert second.ok
    assert writes(fake) == []
    assert json.dumps(fake.comments[ticket], sort_keys=True) == snapshot
    assert set(statuses(second, "redact")) == {"noop"}
    assert set(statuses(second, "internal_note")) == {"noop"}


def test_make_private_hides_a_public_comment_once(fake: FakeZendesk, tmp_path: Path) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description="hello")
    cid = fake.add_comment(ticket, body=f"token {secret}", public=True)
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    policy = [{"types": ["*"], "actions": ["make_private"]}]
    fake.requests.clear()

    report = publish(make_sink(fake, make_private=True, policies=policy), findings, tmp_path)

    assert writes(fake) == [("PUT", f"/api/v2/tickets/{ticket}/comments/{cid}/make_private.json")]
    assert fake.requests_to("PUT", "make_private")[0].body == b""
    assert fake.comment(cid)["public"] is False
    assert statuses(report, "make_private") == ["done"]
    fake.requests.clear()
    again = publish(make_sink(fake, make_private=True, policies=policy), findings, tmp_path)
    assert writes(fake) == [] and statuses(again, "make_private") == ["noop"]


def test_attachment_with_a_secret_is_redacted(fake: FakeZendesk, tmp_path: Path) -> None:
    import io
    import zipfile

    s1, s2 = aws_key(), aws_key()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("conf/app.env", f"AWS_ACCESS_KEY_ID={s2}\n")
    ticket = fake.add_ticket(description="files attached")
    cid = fake.add_comment(
        ticket,
        body="logs",
        attachments=[
            ("app.env", f"# env\nAWS_ACCESS_KEY_ID={s1}\n".encode(), "text/plain"),
            ("logs.zip", archive.getvalue(), "application/zip"),
            ("readme.txt", b"nothing secret\n", "text/plain"),
        ],
    )
    ids = [a["id"] for a in fake.comment(cid)["attachments"]]
    findings = scan_ticket(fake, ticket, {"a": s1, "b": s2}, tmp_path)
    assert sorted(f.location.part.value for f in findings) == ["archive-member", "attachment"]
    fake.requests.clear()

    report = publish(make_sink(fake, redact_attachments=True), findings, tmp_path)

    assert report.ok, report.failed
    assert sorted(p for _, p in writes(fake)) == sorted(
        f"/api/v2/tickets/{ticket}/comments/{cid}/attachments/{aid}/redact.json"
        for aid in ids[:2]
    )
    assert fake.attachments[ids[0]].content == b"" and fake.attachments[ids[1]].content == b""
    assert fake.attachments[ids[2]].content == b"nothing secret\n"  # the rest intact
    fake.requests.clear()
    again = publish(make_sink(fake, redact_attachments=True), findings, tmp_path)
    assert writes(fake) == [] and set(statuses(again, "redact")) == {"noop"}


def test_notify_reporter_posts_one_public_reply_without_the_secret(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description=f"key {secret}")
    policy = [{"types": ["*"], "actions": ["redact", "notify_reporter"]}]
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    sink_settings = {"redact_comments": True, "notify_reporter": True, "policies": policy}

    report = publish(make_sink(fake, **sink_settings), findings, tmp_path)

    replies = [c for c in fake.comments[ticket] if "ticketscan-ref:" in c["body"]]
    assert len(replies) == 1 and replies[0]["public"] is True
    assert "AWS access key id" in replies[0]["body"] and "revoke" in replies[0]["body"]
    assert_no_secrets([replies[0]["body"]], [secret])
    assert statuses(report, "notify_reporter") == ["done"]
    publish(make_sink(fake, **sink_settings), findings, tmp_path)
    assert len([c for c in fake.comments[ticket] if "ticketscan-ref:" in c["body"]]) == 1


def test_policies_redact_keys_and_only_note_generic_passwords(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    key, password = aws_key(), "Tr0ub4dor&3-horse-battery"
    ticket = fake.add_ticket(description=f"key {key}\npassword: {password}")
    findings = scan_ticket(
        fake, ticket, {"key": key, "pw": password}, tmp_path, types={"pw": "generic-password"}
    )
    fake.requests.clear()

    report = publish(make_sink(fake, **LIVE), findings, tmp_path)  # the default policies

    assert report.ok
    by_type = {a["type"]: a for a in report.actions if a["action"] == "redact"}
    assert set(by_type) == {"aws-access-key-id"}
    body = fake.comments[ticket][0]["body"]
    assert key not in body and password in body
    note = fake.comments[ticket][-1]
    assert note["public"] is False
    assert "generic-password" in note["body"] and "notify only" in note["body"]


def test_a_policy_can_match_ticket_tags(fake: FakeZendesk, tmp_path: Path) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description=f"key {secret}")
    fake.tickets[ticket]["tags"] = ["vip"]
    policies = [
        {"name": "vip: hands off", "tags": ["vip"], "actions": []},
        {"types": ["*"], "actions": ["redact"]},
    ]
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    report = publish(
        make_sink(fake, redact_comments=True, policies=policies), findings, tmp_path
    )
    assert report.suppressed == [findings[0].id]
    assert report.actions[0]["policy"] == "vip: hands off"
    assert secret in fake.comments[ticket][0]["body"]


def test_subject_findings_are_reported_as_not_redactable(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(subject=f"key {secret}", description="see subject")
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    assert [f.location.part.value for f in findings] == ["summary"]
    report = publish(make_sink(fake, **LIVE), findings, tmp_path)
    redact = next(a for a in report.actions if a["action"] == "redact")
    assert redact["status"] == "skipped"
    assert "no redaction for a ticket's subject" in redact["reason"]
    assert writes(fake) == [("PUT", f"/api/v2/tickets/{ticket}.json")]  # the note only
    assert "please remove it by hand" in fake.comments[ticket][-1]["body"]


def test_other_systems_findings_are_not_touched(fake: FakeZendesk, tmp_path: Path) -> None:
    from ticketscan.testing import sample_findings

    findings = sample_findings()
    report = publish(make_sink(fake, **LIVE), findings, tmp_path)
    assert sorted(report.suppressed) == sorted(f.id for f in findings)
    assert fake.requests == []


def test_a_note_is_never_sent_twice_on_a_server_error(fake: FakeZendesk, tmp_path: Path) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description=f"key {secret}")
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    fake.fail("PUT", rf"^/api/v2/tickets/{ticket}\.json$", status=503, times=3)
    fake.requests.clear()

    report = publish(make_sink(fake, internal_note=True), findings, tmp_path)

    assert len(fake.requests_to("PUT", rf"^/api/v2/tickets/{ticket}\.json$")) == 1
    assert findings[0].id in report.failed and "503" in report.failed[findings[0].id]


def test_a_redaction_zendesk_accepts_but_does_not_apply_is_a_failure(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description=f"key {secret}")
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    fake.fail("PUT", AW, status=200, body={"comment": {}})  # 200, but nothing changed

    report = publish(make_sink(fake, redact_comments=True), findings, tmp_path)

    assert findings[0].id in report.failed
    assert "still there" in report.failed[findings[0].id]
    assert statuses(report, "verify_after") == ["failed"]


def test_ticket_deleted_meanwhile_is_recorded(fake: FakeZendesk, tmp_path: Path) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description=f"key {secret}")
    findings = scan_ticket(fake, ticket, {"key": secret}, tmp_path)
    fake.delete_ticket(ticket)
    report = publish(make_sink(fake, **LIVE), findings, tmp_path)
    assert report.ok and writes(fake) == []
    assert report.actions[0]["status"] == "skipped" and "gone" in report.actions[0]["reason"]


def test_no_request_log_line_or_report_carries_the_secret(
    fake: FakeZendesk, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    s1, s2, s3 = aws_key(), aws_key(), aws_key()
    ticket = fake.add_ticket(description=f"key {s1}")
    fake.add_comment(ticket, body=f"another {s2}", public=True)
    fake.add_comment(
        ticket, body="file", attachments=[("a.env", f"K={s3}\n".encode(), "text/plain")]
    )
    findings = scan_ticket(fake, ticket, {"a": s1, "b": s2, "c": s3}, tmp_path)
    planted = [s1, s2, s3]
    policy = [{"types": ["*"], "actions": ["make_private", "redact", "internal_note",
                                          "notify_reporter"]}]
    fake.requests.clear()

    report = publish(make_sink(fake, policies=policy, **LIVE), findings, tmp_path)

    assert report.ok, report.failed
    redaction_calls = [r for r in fake.requests if r.path.startswith("/api/v2/comment_redactions")]
    assert len(redaction_calls) == 2
    others = [r for r in fake.requests if r not in redaction_calls]
    assert_no_secrets([r.body for r in others], planted)
    assert_no_secrets([r.path + json.dumps(r.query) for r in fake.requests], planted)
    # each redaction call carries only the secret(s) of its own comment
    assert sum(any(s.encode() in r.body for r in redaction_calls) for s in planted) == 2
    assert_no_secrets([report.model_dump_json()], planted)
    assert_no_secrets([rec.getMessage() for rec in logs.records], planted)
    assert_no_secrets([logs.text], planted)
    for comment in fake.comments[ticket]:
        assert_no_secrets([comment["body"], comment["html_body"]], planted)
    assert sha256_text(s1) not in report.model_dump_json()  # not even the hash


def test_an_attachment_that_will_not_download_fails_only_its_finding(
    fake: FakeZendesk, tmp_path: Path
) -> None:
    s1, s2 = aws_key(), aws_key()
    ticket = fake.add_ticket(description=f"key {s1}")
    fake.add_comment(
        ticket, body="file", attachments=[("a.env", f"K={s2}\n".encode(), "text/plain")]
    )
    findings = scan_ticket(fake, ticket, {"a": s1, "b": s2}, tmp_path)
    fake.fail("GET", r"^/attachments/token/", status=500, times=20)

    report = publish(make_sink(fake, redact_comments=True, redact_attachments=True), findings,
                     tmp_path)

    by_part = {f.location.part.value: f.id for f in findings}
    assert list(report.failed) == [by_part["attachment"]]
    assert "500" in report.failed[by_part["attachment"]]
    assert by_part["description"] in report.delivered
    assert s1 not in fake.comments[ticket][0]["body"]
