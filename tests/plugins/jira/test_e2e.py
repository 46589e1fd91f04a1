"""End to end: `ticketscan run --event <Jira comment webhook> --source jira` against the fake.

The real CLI runs in a fresh process (as an Argo step would) and reaches the local fake Jira
(tests/fakes/jira.py — FAKE because no Jira can run here) through atlassian-python-api on
127.0.0.1. The event is Jira Cloud's recorded ``comment_created`` webhook from ../shared;
with ``incremental = false`` the whole ticket is scanned: planted fake secrets sit in the
description, a comment, a text attachment, a docx, a PDF and a file inside a zip inside a zip.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fakes.jira import FakeJira
from ticketscan.models import sha256_text
from ticketscan.testing import assert_no_secrets

from tests.conftest import run_cli
from tests.fakes.attachments import docx_bytes, pdf_bytes, zip_in_zip

SECRETS = {
    "description": "AKIAN4QZ7XKLM2PTRW5Y",
    "comment": "AKIAP5HJ3MXQ7RTLNW2K",
    "text-attachment": "AKIAS4NPX2QLMZ7TKW6J",
    "docx": "AKIAU2TQ7XLRN4KPZW3V",
    "pdf": "AKIAX7PZ2WQNR3LMKT5Y",
    "zip-in-zip": "AKIAY3RN5KZQ2XTLMP6J",
}


def _plant(fake: FakeJira, key: str, comment_id: str) -> None:
    fake.add_issue(key, summary="Deploy fails",
                   description=f"Hello,\nour key is {SECRETS['description']}\nplease help")
    fake._next_id = int(comment_id) - 1  # the comment gets the id the webhook names
    fake.add_comment(key, f"agent: the customer pasted\naws_access_key_id={SECRETS['comment']}")
    fake.add_attachment(key, "app.env", f"AWS_ACCESS_KEY_ID={SECRETS['text-attachment']}\n"
                        .encode())
    fake.add_attachment(key, "notes.docx", docx_bytes(f"aws_access_key_id={SECRETS['docx']}"),
                        "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    fake.add_attachment(key, "export.pdf", pdf_bytes(f"aws_access_key_id={SECRETS['pdf']}"),
                        "application/pdf")
    fake.add_attachment(key, "logs.zip", zip_in_zip(SECRETS["zip-in-zip"]), "application/zip")


def _config(fake: FakeJira, path: Path, incremental: bool) -> Path:
    email = f'email = "{fake.email}"' if fake.flavor == "cloud" else ""
    path.write_text(f"""
[pipeline]
scanners = ["detect-secrets"]
sinks = ["jsonl"]

[sources.jira]
url = "{fake.url}"
flavor = "{fake.flavor}"
{email}
token = {{ env = "JIRA_TEST_TOKEN" }}
incremental = {str(incremental).lower()}

[sinks.jsonl]
path = "sink.jsonl"
""")
    return path


COMMENT_WEBHOOK = "jira/webhooks/mattermost-plugin-jira/webhook-cloud-comment-created.json"


def _run(
    fake: FakeJira, fixtures_dir: Path, tmp_path: Path, incremental: bool
) -> tuple[subprocess.CompletedProcess[str], Path, dict[str, dict[str, Any]]]:
    webhook = fixtures_dir / COMMENT_WEBHOOK
    payload = json.loads(webhook.read_text("utf-8"))
    _plant(fake, payload["issue"]["key"], payload["comment"]["id"])
    config = _config(fake, tmp_path / "ticketscan.toml", incremental)
    out = tmp_path / "out"
    result = run_cli(["--config", str(config), "run", "--event", str(webhook),
                      "--source", "jira", "--out", str(out)],
                     env={"JIRA_TEST_TOKEN": fake.token})
    assert result.returncode in (0, 1), result.stderr[-3000:]
    findings = [json.loads(line) for line in (out / "findings.jsonl").read_text().splitlines()
                if line]
    return result, out, {f["secret_sha256"]: f["location"] for f in findings}


def test_run_finds_every_planted_secret_in_the_whole_ticket(
    fake_jira: FakeJira, fixtures_dir: Path, tmp_path: Path
) -> None:
    result, out, found = _run(fake_jira, fixtures_dir, tmp_path, incremental=False)
    for label, secret in SECRETS.items():
        assert sha256_text(secret) in found, f"missed the secret in the {label}"
    where = {label: found[sha256_text(secret)] for label, secret in SECRETS.items()}
    assert where["description"]["path"] == "TES-41/description"
    assert where["description"]["line"] == 2
    assert where["comment"]["path"] == "TES-41/comment/10019"
    assert where["comment"]["line"] == 2
    assert where["text-attachment"]["path"].endswith("/app.env")
    assert where["zip-in-zip"]["path"].endswith("logs.zip!/bundle/inner.zip!/conf/app.env")
    assert "notes.docx" in where["docx"]["path"]
    assert "export.pdf" in where["pdf"]["path"]
    outputs = [result.stdout, result.stderr]
    outputs += [p.read_bytes() for p in out.iterdir() if p.is_file()]
    outputs.append((out / "documents" / "manifest.json").read_bytes())
    assert_no_secrets(outputs, SECRETS.values())
    assert_no_secrets([result.stderr, result.stdout], [fake_jira.token])


def test_run_on_a_comment_event_scans_only_that_comment_by_default(
    fake_cloud: FakeJira, fixtures_dir: Path, tmp_path: Path
) -> None:
    _result, _out, found = _run(fake_cloud, fixtures_dir, tmp_path, incremental=True)
    assert set(found) == {sha256_text(SECRETS["comment"])}


@pytest.mark.parametrize("status", [401, 429])
def test_run_exits_3_when_jira_refuses_or_throttles(
    fake_cloud: FakeJira, fixtures_dir: Path, tmp_path: Path, status: int
) -> None:
    webhook = fixtures_dir / COMMENT_WEBHOOK
    fake_cloud.add_issue("TES-41")
    fake_cloud.fail("GET", r"/issue/", status, times=100, retry_after="0")
    config = _config(fake_cloud, tmp_path / "ticketscan.toml", incremental=True)
    config.write_text(config.read_text().replace(
        "incremental = true", "incremental = true\nretries = 1\nbackoff = 0"))
    result = run_cli(["--config", str(config), "run", "--event", str(webhook),
                      "--source", "jira", "--out", str(tmp_path / "out")],
                     env={"JIRA_TEST_TOKEN": fake_cloud.token})
    assert result.returncode == 3, result.stderr[-2000:]
    assert ("401" if status == 401 else "429") in result.stderr
    assert fake_cloud.token not in result.stderr


def test_run_exits_2_on_a_malformed_event(fake_cloud: FakeJira, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"webhookEvent": "comment_created", "issue": {"key": "TES-41"},
                                 "comment": {"id": "x"}}))
    config = _config(fake_cloud, tmp_path / "ticketscan.toml", incremental=True)
    result = run_cli(["--config", str(config), "run", "--event", str(event),
                      "--source", "jira", "--out", str(tmp_path / "out")],
                     env={"JIRA_TEST_TOKEN": fake_cloud.token})
    assert result.returncode == 2
    assert "comment.id" in result.stderr


def test_deleted_ticket_exits_0_and_records_the_skip(
    fake_cloud: FakeJira, fixtures_dir: Path, tmp_path: Path
) -> None:
    webhook = fixtures_dir / COMMENT_WEBHOOK
    config = _config(fake_cloud, tmp_path / "ticketscan.toml", incremental=True)
    out = tmp_path / "out"
    result = run_cli(["--config", str(config), "run", "--event", str(webhook),
                      "--source", "jira", "--out", str(out)],
                     env={"JIRA_TEST_TOKEN": fake_cloud.token})
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((out / "documents" / "manifest.json").read_text())
    assert "404" in manifest["skipped"][0]["reason"]


def test_run_with_jira_remediate_masks_the_comment_in_place(
    fake_jira: FakeJira, fixtures_dir: Path, tmp_path: Path
) -> None:
    """The whole pipeline: detect-secrets finds the key, jira-remediate masks it in Jira."""
    webhook = fixtures_dir / COMMENT_WEBHOOK
    payload = json.loads(webhook.read_text("utf-8"))
    _plant(fake_jira, payload["issue"]["key"], payload["comment"]["id"])
    config = _config(fake_jira, tmp_path / "ticketscan.toml", incremental=True)
    email = f'email = "{fake_jira.email}"' if fake_jira.flavor == "cloud" else ""
    config.write_text(config.read_text().replace('sinks = ["jsonl"]',
                                                 'sinks = ["jsonl", "jira-remediate"]') + f"""
[sinks.jira-remediate]
url = "{fake_jira.url}"
flavor = "{fake_jira.flavor}"
{email}
token = {{ env = "JIRA_TEST_TOKEN" }}
apply = ["mask"]
""")
    out = tmp_path / "out"
    result = run_cli(["--config", str(config), "run", "--event", str(webhook),
                      "--source", "jira", "--out", str(out)],
                     env={"JIRA_TEST_TOKEN": fake_jira.token})
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads((out / "publish-report.json").read_text())
    actions = report["sinks"]["jira-remediate"]["actions"]
    assert [a["outcome"] for a in actions] == ["masked"]
    body = fake_jira.comment("TES-41", "10019")["body"]
    text = json.dumps(body)
    assert SECRETS["comment"] not in text
    assert "*" * len(SECRETS["comment"]) in text
    assert "the customer pasted" in text
    assert_no_secrets([result.stdout, result.stderr, json.dumps(report)], SECRETS.values())
