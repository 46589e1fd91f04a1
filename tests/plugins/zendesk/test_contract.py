"""The zendesk source passes the source contract, driven through zenpy against the fake Zendesk.

FAKE, and why: no Zendesk server can run here; tests/fakes/zendesk.py answers with the response
shapes recorded from Zendesk (../shared/fixtures/zendesk).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from ticketscan.components import Source
from ticketscan.testing import SourceContract
from ticketscan_zendesk.source import ZendeskSource

from tests.fakes.zendesk import FakeZendesk

EMAIL, TOKEN = "agent@example.com", "contract-token-987654"


class TestZendeskSourceContract(SourceContract):
    source_name = "zendesk"

    @pytest.fixture(autouse=True)
    def _fake(self, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        with FakeZendesk(email=EMAIL, token=TOKEN, shapes_dir=fixtures_dir / "zendesk") as fake:
            for name, value in fake.env().items():
                monkeypatch.setenv(name, value)
            self.fake = fake
            self.ticket = fake.add_ticket(
                subject="Printer",
                description="It is on fire.",
                custom_fields=[(1, "some notes")],
                attachments=[("log.txt", b"line 1\nline 2\n", "text/plain")],
            )
            self.comment = fake.add_comment(self.ticket, body="private note", public=False)
            yield

    def source(self) -> Source:
        return ZendeskSource(ZendeskSource.Settings(url=self.fake.url, email=EMAIL, token=TOKEN))

    def events(self) -> Sequence[tuple[dict[str, Any], dict[str, str]]]:
        tid = str(self.ticket)
        envelope = {
            "subject": f"zen:ticket:{tid}",
            "detail": {"id": tid},
            "id": "evt-1",
            "time": "2025-01-08T10:12:07Z",
            "zendesk_event_version": "2022-11-06",
        }
        return [
            (
                {**envelope, "type": "zen:event-type:ticket.created", "event": {}},
                {"X-Zendesk-Webhook-Invocation-Id": "inv-1"},
            ),
            (
                {
                    **envelope,
                    "type": "zen:event-type:ticket.comment_added",
                    "event": {"comment": {"id": str(self.comment), "is_public": False}},
                },
                {},
            ),
            ({"source": "zendesk", "type": "ticketscan:zendesk-trigger", "ticket_id": tid}, {}),
        ]

    def malformed_events(self) -> Sequence[dict[str, Any]]:
        return [
            {"completely": "unrelated"},
            {
                "type": "zen:event-type:ticket.comment_added",
                "subject": f"zen:ticket:{self.ticket}",
                "event": {"comment": {}},
            },
            {"source": "zendesk", "ticket_id": "{{ticket.id}}"},
        ]
