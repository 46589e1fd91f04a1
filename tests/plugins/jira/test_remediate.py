"""jira-remediate against the local fake Jira (tests/fakes/jira.py; a fake because no Jira can
run here), through the real atlassian-python-api client.

Findings are built the way the pipeline builds them: the real jira source fetches the ticket,
the planted secret is located in the fetched text (line/column), and core's build_findings
turns that into a Finding carrying only the secret's sha256 and redacted form.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fakes.jira import FAKE_SECRETS, FakeJira
from ticketscan.components import PublishContext
from ticketscan.merge import build_findings
from ticketscan.models import Detection, Finding, Manifest, SinkReport, redact, sha256_text
from ticketscan.steps import fetch_event
from ticketscan.testing import assert_no_secrets
from ticketscan_jira.remediate import JiraRemediate, RemediateSettings
from ticketscan_jira.source import JiraSettings, JiraSource
from ticketscan_jira.text import adf_to_text

SECRET = FAKE_SECRETS["aws-4"]
OTHER = FAKE_SECRETS["aws-5"]


def _connection(fake: FakeJira) -> dict[str, Any]:
    values: dict[str, Any] = {"url": fake.url, "flavor": fake.flavor, "token": fake.token,
                              "backoff": 0.0}
    if fake.flavor == "cloud":
        values["email"] = fake.email
    return values


def _findings(fake: FakeJira, tmp_path: Path, secrets: list[str],
              kind: str = "aws-access-key-id") -> tuple[list[Finding], Manifest]:
    source = JiraSource(JiraSettings.model_validate(_connection(fake)))
    event = source.parse_event({"webhookEvent": "jira:issue_created",
                                "issue": {"id": "1", "key": "SEC-42"}})
    docs = tmp_path / "docs"
    manifest = fetch_event(source, event, docs)
    pairs = []
    for doc in manifest.documents:
        lines = (docs / doc.text_path).read_text("utf-8").split("\n")
        for number, line in enumerate(lines, 1):
            for secret in secrets:
                if secret in line:
                    column = line.index(secret) + 1
                    pairs.append((doc, Detection(
                        scanner="test", rule_id=kind, type=kind, confidence=0.9,
                        secret_sha256=sha256_text(secret), secret_length=len(secret),
                        redacted=redact(secret), line=number, column=column, end_line=number,
                        end_column=column + len(secret))))
    return build_findings(pairs), manifest


def _publish(fake: FakeJira, findings: list[Finding], tmp_path: Path, *,
             dry_run: bool = False, manifest: Manifest | None = None,
             **settings: Any) -> SinkReport:
    sink = JiraRemediate(RemediateSettings.model_validate({**_connection(fake), **settings}))
    return sink.publish(findings, PublishContext(out_dir=tmp_path, dry_run=dry_run,
                                                 manifest=manifest))


def _rich_comment(fake: FakeJira) -> str:
    body = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [
            {"type": "text", "text": "Hi, the key is "},
            {"type": "text", "text": SECRET[:8], "marks": [{"type": "strong"}]},
            {"type": "text", "text": SECRET[8:] + " (see ", "marks": [{"type": "em"}]},
            {"type": "text", "text": "docs", "marks": [
                {"type": "link", "attrs": {"href": "https://example.com/docs"}}]},
            {"type": "text", "text": ")"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "Thanks!"}]}]}
    return fake.add_comment("SEC-42", body)


def _writes(fake: FakeJira) -> list[Any]:
    return [r for r in fake.requests if r.method in ("PUT", "POST", "DELETE")]


def test_dry_run_is_the_default_and_changes_nothing(fake_cloud: FakeJira, tmp_path: Path) -> None:
    fake_cloud.add_issue("SEC-42")
    comment_id = _rich_comment(fake_cloud)
    before = copy.deepcopy(fake_cloud.comment("SEC-42", comment_id))
    findings, _ = _findings(fake_cloud, tmp_path, [SECRET])
    report = _publish(fake_cloud, findings, tmp_path)
    assert report.ok
    assert _writes(fake_cloud) == []
    assert fake_cloud.comment("SEC-42", comment_id) == before
    (action,) = report.actions
    assert action["outcome"] == "would mask" and action["dry_run"] is True
    assert action["target"] == f"SEC-42/comment/{comment_id}"
    assert action["chars"] == len(SECRET) and action["line"] == 1


def test_masks_the_secret_in_an_adf_comment_keeping_formatting(
    fake_cloud: FakeJira, tmp_path: Path
) -> None:
    fake_cloud.add_issue("SEC-42")
    comment_id = _rich_comment(fake_cloud)
    before = copy.deepcopy(fake_cloud.comment("SEC-42", comment_id)["body"])
    findings, _ = _findings(fake_cloud, tmp_path, [SECRET])
    report = _publish(fake_cloud, findings, tmp_path, apply=["mask"])
    assert report.ok and report.actions[0]["outcome"] == "masked"
    (write,) = _writes(fake_cloud)
    assert write.method == "PUT" and write.path.endswith(f"/issue/SEC-42/comment/{comment_id}")
    body = fake_cloud.comment("SEC-42", comment_id)["body"]
    assert adf_to_text(body).text == (
        f"Hi, the key is {'*' * len(SECRET)} (see docs https://example.com/docs)\nThanks!")
    # the same nodes and marks, only the secret's characters changed
    marks_after = [n.get("marks") for n in body["content"][0]["content"]]
    assert marks_after == [n.get("marks") for n in before["content"][0]["content"]]
    assert body["content"][1] == before["content"][1]


def test_masks_the_secret_in_a_wiki_description(fake_server: FakeJira, tmp_path: Path) -> None:
    fake_server.add_issue("SEC-42", description=f"h2. Creds\n||name||value||\n|aws|*{SECRET}*|\n"
                          "{code}\nkeep me\n{code}")
    findings, _ = _findings(fake_server, tmp_path, [SECRET])
    report = _publish(fake_server, findings, tmp_path, apply=["mask"])
    assert report.ok, report.failed
    assert fake_server.issues["SEC-42"].fields["description"] == (
        f"h2. Creds\n||name||value||\n|aws|*{'*' * len(SECRET)}*|\n{{code}}\nkeep me\n{{code}}")
    (write,) = _writes(fake_server)
    assert json.loads(write.body) == {"fields": {"description": fake_server.issues["SEC-42"]
                                                 .fields["description"]}}


def test_text_changed_meanwhile_means_no_edit(fake_jira: FakeJira, tmp_path: Path) -> None:
    fake_jira.add_issue("SEC-42")
    comment_id = fake_jira.add_comment("SEC-42", f"key {SECRET} here")
    findings, _ = _findings(fake_jira, tmp_path, [SECRET])
    edited = fake_jira._rich(f"edited: key {SECRET} here")  # the secret moved
    fake_jira.comment("SEC-42", comment_id)["body"] = edited
    report = _publish(fake_jira, findings, tmp_path, apply=["mask"])
    assert _writes(fake_jira) == []
    assert "changed meanwhile" in report.actions[0]["outcome"]
    assert fake_jira.comment("SEC-42", comment_id)["body"] == edited


def test_running_twice_changes_nothing_more(fake_jira: FakeJira, tmp_path: Path) -> None:
    fake_jira.add_issue("SEC-42", description=f"first {SECRET}\nsecond {OTHER}")
    findings, _ = _findings(fake_jira, tmp_path, [SECRET, OTHER])
    assert len(findings) == 2
    first = _publish(fake_jira, findings, tmp_path, apply=["mask"])
    assert [a["outcome"] for a in first.actions] == ["masked", "masked"]
    assert len(_writes(fake_jira)) == 1  # both masks in one edit
    after = copy.deepcopy(fake_jira.issues["SEC-42"].fields["description"])
    second = _publish(fake_jira, findings, tmp_path, apply=["mask"])
    assert [a["outcome"] for a in second.actions] == ["already masked", "already masked"]
    assert len(_writes(fake_jira)) == 1
    assert fake_jira.issues["SEC-42"].fields["description"] == after


def test_restricts_the_comment_visibility(fake_jira: FakeJira, tmp_path: Path) -> None:
    fake_jira.add_issue("SEC-42")
    comment_id = fake_jira.add_comment("SEC-42", f"key {SECRET}")
    findings, _ = _findings(fake_jira, tmp_path, [SECRET])
    report = _publish(fake_jira, findings, tmp_path, actions=["mask", "restrict"],
                      apply=["mask", "restrict"],
                      visibility={"type": "group", "value": "jira-security"})
    assert {a["action"]: a["outcome"] for a in report.actions} == {
        "mask": "masked", "restrict": "restricted"}
    comment = fake_jira.comment("SEC-42", comment_id)
    assert comment["visibility"] == {"type": "group", "value": "jira-security"}
    assert len(_writes(fake_jira)) == 1
    again = _publish(fake_jira, findings, tmp_path, actions=["mask", "restrict"],
                     apply=["mask", "restrict"],
                     visibility={"type": "group", "value": "jira-security"})
    assert {a["outcome"] for a in again.actions} == {"already masked", "already restricted"}


def test_adds_one_internal_jsm_note_per_ticket(fake_cloud: FakeJira, tmp_path: Path) -> None:
    fake_cloud.add_issue("SEC-42", description=f"a {SECRET}")
    fake_cloud.add_comment("SEC-42", f"b {OTHER}")
    findings, _ = _findings(fake_cloud, tmp_path, [SECRET, OTHER])
    report = _publish(fake_cloud, findings, tmp_path, actions=["mask", "note"],
                      apply=["mask", "note"], note_style="jsm")
    assert report.ok, report.error
    (note,) = fake_cloud.jsm_comments
    assert note["public"] is False
    assert redact(SECRET) in note["body"] and "rotate" in note["body"]


def test_deletes_an_attachment_only_when_opted_in_and_unchanged(
    fake_jira: FakeJira, tmp_path: Path
) -> None:
    fake_jira.add_issue("SEC-42")
    attachment_id = fake_jira.add_attachment("SEC-42", "app.env", f"K={SECRET}\n".encode())
    findings, manifest = _findings(fake_jira, tmp_path, [SECRET])
    default = _publish(fake_jira, findings, tmp_path, manifest=manifest, apply=["mask"])
    assert default.actions == [] and attachment_id in fake_jira.attachments
    no_manifest = _publish(fake_jira, findings, tmp_path, actions=["delete-attachment"],
                           apply=["delete-attachment"])
    assert "manifest" in no_manifest.actions[0]["outcome"]
    report = _publish(fake_jira, findings, tmp_path, manifest=manifest,
                      actions=["delete-attachment"], apply=["delete-attachment"])
    assert report.actions[0]["outcome"] == "deleted"
    assert attachment_id not in fake_jira.attachments
    assert _writes(fake_jira)[-1].method == "DELETE"


def test_policies_choose_actions_per_type(fake_cloud: FakeJira, tmp_path: Path) -> None:
    fake_cloud.add_issue("SEC-42", description=f"pw {SECRET}")
    findings, _ = _findings(fake_cloud, tmp_path, [SECRET], kind="generic-password")
    report = _publish(fake_cloud, findings, tmp_path, apply=["mask", "note"], policies=[
        {"types": ["private-key", "aws-access-key-id"], "actions": ["mask"]},
        {"types": ["generic-password"], "actions": ["note"]}])
    assert [a["action"] for a in report.actions] == ["note"]
    assert SECRET in json.dumps(fake_cloud.issues["SEC-42"].fields["description"])


def test_no_request_log_or_report_carries_the_secret(
    fake_jira: FakeJira, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    fake_jira.add_issue("SEC-42", description=f"desc {SECRET}")
    fake_jira.add_comment("SEC-42", f"comment {OTHER}")
    findings, _ = _findings(fake_jira, tmp_path, [SECRET, OTHER])
    fake_jira.requests.clear()
    caplog.clear()
    report = _publish(fake_jira, findings, tmp_path, actions=["mask", "restrict", "note"],
                      apply=["mask", "restrict", "note"])
    assert report.ok, report.error
    assert len(_writes(fake_jira)) == 3  # description, comment, note
    blobs: list[str | bytes] = [r.body for r in fake_jira.requests]
    blobs += [r.path for r in fake_jira.requests]
    blobs += [caplog.text, report.model_dump_json()]
    assert_no_secrets(blobs, [SECRET, OTHER])


def test_documented_configuration_is_valid(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ticketscan.config import load_config

    doc = (repo_root / "docs/jira.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```toml\n")[1:]]
    (block,) = [b for b in blocks if "[sinks.jira-remediate]" in b]
    path = tmp_path / "ticketscan.toml"
    path.write_text(block.replace('sinks = ["slack", "jira-remediate"]', "sinks = []"))
    monkeypatch.setenv("JIRA_API_TOKEN", "x")
    config = load_config(path, env={"JIRA_API_TOKEN": "x"})
    settings = config.settings_for(JiraRemediate)
    assert isinstance(settings, RemediateSettings)
    assert [p.actions for p in settings.policies] == [["mask", "restrict", "note"], ["note"]]
    assert settings.apply == ["mask", "note"]
