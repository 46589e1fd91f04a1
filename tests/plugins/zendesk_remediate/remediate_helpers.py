"""Helpers for the zendesk-remediate tests: findings made the scan's way, a configured sink.

FAKE, and why: no Zendesk server can run here. tests/fakes/zendesk.py answers with the response
shapes of ../shared/fixtures/zendesk (recordings of zenpy against Zendesk, Zendesk's OpenAPI
spec), including the redaction endpoints; the sink reaches it through the real zenpy client.

Findings are built as a scan builds them: the real ``zendesk`` source fetches the ticket into a
documents directory, a stand-in scanner finds the planted secrets in the documents' text (their
line/column, like every scanner reports), and core's ``build_findings`` hashes and redacts them.
"""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ticketscan.components import PublishContext
from ticketscan.documents import DocumentWriter
from ticketscan.merge import build_findings
from ticketscan.models import (
    Detection,
    Finding,
    SinkReport,
    TicketEvent,
    TicketRef,
    redact,
    sha256_text,
)
from ticketscan_zendesk.remediate import ZendeskRemediateSink
from ticketscan_zendesk.source import ZendeskSource

from tests.fakes.zendesk import FakeZendesk

EMAIL = "agent@example.com"
TOKEN = "fake-api-token-remediate-42"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def aws_key() -> str:
    """A random, structurally valid fake AWS access key id."""
    return "AKIA" + "".join(_secrets.choice(B32) for _ in range(16))


def connection(fake: FakeZendesk) -> dict[str, Any]:
    return {"url": fake.url, "email": EMAIL, "token": TOKEN, "backoff_base": 0.0, "timeout": 5}


def scan_ticket(
    fake: FakeZendesk,
    ticket: int,
    planted: dict[str, str],
    tmp_path: Path,
    types: dict[str, str] | None = None,
) -> list[Finding]:
    """Fetch the ticket with the real source; find each planted secret like a scanner would."""
    source = ZendeskSource(ZendeskSource.Settings.model_validate(connection(fake)))
    event = TicketEvent(
        system="zendesk",
        event_type="test",
        ticket=TicketRef(system="zendesk", key=str(ticket), url=f"{fake.url}/agent/{ticket}"),
        delivery_id=f"d-{ticket}",
    )
    docs = tmp_path / f"docs-{ticket}"
    writer = DocumentWriter(docs, event)
    source.fetch(event, writer)
    writer.close()
    pairs = []
    for doc in writer.documents:
        text = (docs / doc.text_path).read_text(encoding="utf-8")
        for label, secret in planted.items():
            start = text.find(secret)
            while start >= 0:
                line = text.count("\n", 0, start) + 1
                column = start - (text.rfind("\n", 0, start) + 1) + 1
                end = start + len(secret)
                end_line = text.count("\n", 0, end) + 1
                end_column = end - (text.rfind("\n", 0, end) + 1) + 1
                kind = (types or {}).get(label, "aws-access-key-id")
                pairs.append(
                    (
                        doc,
                        Detection(
                            scanner="stand-in",
                            rule_id=kind,
                            type=kind,
                            confidence=0.9,
                            secret_sha256=sha256_text(secret),
                            secret_length=len(secret),
                            redacted=redact(secret),
                            line=line,
                            column=column,
                            end_line=end_line,
                            end_column=end_column,
                        ),
                    )
                )
                start = text.find(secret, end)
    return build_findings(pairs)


def make_sink(fake: FakeZendesk, **settings: Any) -> ZendeskRemediateSink:
    values = connection(fake)
    values.update(settings)
    return ZendeskRemediateSink(ZendeskRemediateSink.Settings.model_validate(values))


def publish(
    sink: ZendeskRemediateSink,
    findings: Sequence[Finding],
    tmp_path: Path,
    *,
    dry_run: bool = False,
) -> SinkReport:
    try:
        return sink.publish(findings, PublishContext(out_dir=tmp_path, dry_run=dry_run))
    finally:
        sink.close()


LIVE = {
    "redact_comments": True,
    "redact_attachments": True,
    "make_private": True,
    "internal_note": True,
    "notify_reporter": True,
}

