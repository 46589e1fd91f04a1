"""End to end: `ticketscan run --event <zendesk webhook> --source zendesk` against the fake Zendesk.

The real CLI runs in a fresh process (as an Argo step would) and reaches the fake Zendesk
(tests/fakes/zendesk.py — FAKE because no Zendesk server can run here) through zenpy, on
127.0.0.1. Planted fake secrets sit in the description, a private comment, an HTML-entity
encoded comment, a text attachment, a docx, a PDF and a file inside a zip inside a zip.
"""

from __future__ import annotations

import json
from pathlib import Path

from ticketscan.models import sha256_text
from ticketscan.testing import assert_no_secrets

from tests.conftest import run_cli
from tests.fakes.attachments import docx_bytes, pdf_bytes, zip_in_zip
from tests.fakes.zendesk import FakeZendesk

EMAIL, TOKEN = "agent@example.com", "fake-api-token-0123456789"  # as in conftest.py

SECRETS = {
    "description": "AKIAQ3ZL7XKMN2PTRW4Y",
    "private-comment": "AKIAV5HJ2MXQ7RTLNP3K",
    "html-entities": "AKIAZ7W3KQ2MTPLX5NRV",
    "text-attachment": "AKIAR4NPX2QLMZ7TKW3J",
    "docx": "AKIAM2TQ7XLRN4KPZW5V",
    "pdf": "AKIAK7PZ2WQNX3LMRT5Y",
    "zip-in-zip": "AKIAW3RN5KZQ2XTLMP7J",
}


def plant(fake: FakeZendesk) -> int:
    ticket = fake.add_ticket(
        subject="Cannot deploy",
        description=f"Hello,\nour key is {SECRETS['description']}\nplease help",
    )
    fake.add_comment(
        ticket, body=f"agent note: customer pasted {SECRETS['private-comment']}", public=False
    )
    encoded = "".join(f"&#x{ord(c):x};" for c in SECRETS["html-entities"])
    fake.add_comment(
        ticket,
        body="config attached inline",
        html_body=f'<div class="zd-comment"><p>config attached inline</p>'
        f"<pre>aws_access_key_id = {encoded}</pre></div>",
    )
    fake.add_comment(
        ticket,
        body="here are the files",
        attachments=[
            ("app.env", f"AWS_ACCESS_KEY_ID={SECRETS['text-attachment']}\n".encode(), "text/plain"),
            (
                "notes.docx",
                docx_bytes(f"aws_access_key_id={SECRETS['docx']}"),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
            ("export.pdf", pdf_bytes(f"aws_access_key_id={SECRETS['pdf']}"), "application/pdf"),
            ("logs.zip", zip_in_zip(SECRETS["zip-in-zip"]), "application/zip"),
        ],
    )
    return ticket


def test_run_finds_every_planted_secret(fake: FakeZendesk, tmp_path: Path) -> None:
    ticket = plant(fake)
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "type": "zen:event-type:ticket.created",
                "subject": f"zen:ticket:{ticket}",
                "detail": {"id": str(ticket), "description": SECRETS["description"]},
                "event": {},
                "id": "6b1e2c1a-0000-4000-8000-000000000001",
                "time": "2025-01-08T10:12:07Z",
                "account_id": 1,
                "zendesk_event_version": "2022-11-06",
            }
        )
    )
    config = tmp_path / "ticketscan.toml"
    config.write_text(f"""
[pipeline]
scanners = ["detect-secrets"]
sinks = ["jsonl"]

[sources.zendesk]
url = "{fake.url}"
email = "{EMAIL}"
token = {{ env = "ZENDESK_TEST_TOKEN" }}

[sinks.jsonl]
path = "sink.jsonl"
""")
    out = tmp_path / "out"
    result = run_cli(
        [
            "--config",
            str(config),
            "run",
            "--event",
            str(event),
            "--source",
            "zendesk",
            "--out",
            str(out),
        ],
        env={"ZENDESK_TEST_TOKEN": TOKEN, "ZENPY_FORCE_NETLOC": "", "ZENPY_FORCE_SCHEME": ""},
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    findings = [
        json.loads(line) for line in (out / "findings.jsonl").read_text().splitlines() if line
    ]
    found = {f["secret_sha256"]: f["location"]["path"] for f in findings}
    for label, secret in SECRETS.items():
        assert sha256_text(secret) in found, f"missed the secret in the {label}"
    paths = {label: found[sha256_text(secret)] for label, secret in SECRETS.items()}
    assert paths["description"] == f"{ticket}/description"
    assert paths["html-entities"].endswith("/html")
    assert paths["zip-in-zip"].endswith("logs.zip!/bundle/inner.zip!/conf/app.env")
    assert paths["docx"].split("/")[-1].startswith("notes.docx")
    # nothing that leaves the pipeline holds a secret in clear (documents/ is the scanners' input)
    outputs = [result.stdout, result.stderr]
    outputs += [p.read_bytes() for p in out.iterdir() if p.is_file()]
    outputs.append((out / "documents" / "manifest.json").read_bytes())
    assert_no_secrets(outputs, SECRETS.values())
    assert_no_secrets([result.stderr, result.stdout], [TOKEN])
