"""End to end: `ticketscan run --source zendesk --sink zendesk-remediate` redacts a planted secret.

The real CLI runs in a fresh process: the zendesk source fetches the ticket from the fake Zendesk
(tests/fakes/zendesk.py — FAKE because no Zendesk server can run here) through zenpy,
detect-secrets finds the planted fake AWS key, and the zendesk-remediate sink re-reads the
comment, checks the hash and redacts it through the same fake.
"""

from __future__ import annotations

import json
from pathlib import Path

from ticketscan.testing import assert_no_secrets

from tests.conftest import run_cli
from tests.fakes.zendesk import REDACTED_CHAR, FakeZendesk
from tests.plugins.zendesk_remediate.remediate_helpers import EMAIL, TOKEN, aws_key


def event_file(tmp_path: Path, ticket: int, comment: int) -> Path:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "type": "zen:event-type:ticket.comment_added",
                "subject": f"zen:ticket:{ticket}",
                "detail": {"id": str(ticket)},
                "event": {"comment": {"id": str(comment), "is_public": False}},
                "id": "6b1e2c1a-0000-4000-8000-00000000e2e8",
                "time": "2025-01-08T10:12:07Z",
                "account_id": 1,
                "zendesk_event_version": "2022-11-06",
            }
        )
    )
    return event


def config_file(tmp_path: Path, fake: FakeZendesk) -> Path:
    config = tmp_path / "ticketscan.toml"
    config.write_text(f"""
[pipeline]
scanners = ["detect-secrets"]

[sources.zendesk]
url = "{fake.url}"
email = "{EMAIL}"
token = {{ env = "ZENDESK_TEST_TOKEN" }}

[sinks.zendesk-remediate]
url = "{fake.url}"
email = "{EMAIL}"
token = {{ env = "ZENDESK_TEST_TOKEN" }}
redact_comments = true
internal_note = true
""")
    return config


def run(tmp_path: Path, fake: FakeZendesk, ticket: int, comment: int, *extra: str):  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    result = run_cli(
        [
            "--config", str(config_file(tmp_path, fake)),
            "run",
            "--event", str(event_file(tmp_path, ticket, comment)),
            "--source", "zendesk",
            "--sink", "zendesk-remediate",
            "--out", str(out),
            *extra,
        ],
        env={"ZENDESK_TEST_TOKEN": TOKEN, "ZENPY_FORCE_NETLOC": "", "ZENPY_FORCE_SCHEME": ""},
    )
    return result, out


def test_run_redacts_the_planted_secret(fake: FakeZendesk, tmp_path: Path) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description="Deploy fails")
    body = f"Here you go:\naws_access_key_id = {secret}\nregion = us-east-1"
    cid = fake.add_comment(ticket, body=body, public=False)

    result, out = run(tmp_path, fake, ticket, cid)

    assert result.returncode == 0, result.stderr[-3000:]
    comment = fake.comment(cid)
    assert comment["body"] == body.replace(secret, REDACTED_CHAR * len(secret))
    assert secret not in comment["html_body"]
    report = json.loads((out / "publish-report.json").read_text())
    actions = report["sinks"]["zendesk-remediate"]["actions"]
    assert [(a["action"], a["status"]) for a in actions] == [
        ("redact", "done"),
        ("verify_after", "done"),
        ("internal_note", "done"),
    ]
    note = fake.comments[ticket][-1]
    assert note["public"] is False and "aws-access-key-id" in note["body"]
    outputs = [result.stdout, result.stderr, note["body"]]
    outputs += [p.read_bytes() for p in out.iterdir() if p.is_file()]
    assert_no_secrets(outputs, [secret, TOKEN])


def test_run_dry_run_plans_and_changes_nothing(fake: FakeZendesk, tmp_path: Path) -> None:
    secret = aws_key()
    ticket = fake.add_ticket(description="Deploy fails")
    cid = fake.add_comment(ticket, body=f"aws_access_key_id = {secret}", public=False)

    result, out = run(tmp_path, fake, ticket, cid, "--dry-run")

    assert result.returncode == 0, result.stderr[-3000:]
    assert [r.method for r in fake.requests] == ["GET"] * len(fake.requests)
    assert secret in fake.comment(cid)["body"]
    report = json.loads((out / "publish-report.json").read_text())
    actions = report["sinks"]["zendesk-remediate"]["actions"]
    assert {a["status"] for a in actions} == {"planned"}
    assert_no_secrets([result.stdout, result.stderr, json.dumps(report)], [secret])
