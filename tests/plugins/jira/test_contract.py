"""The jira source passes the source contract, fetching from the local fake Jira (a fake
because no Jira can run here; see tests/fakes/jira.py) through atlassian-python-api."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fakes.jira import FAKE_SECRETS, FakeJira
from ticketscan.components import Source
from ticketscan.testing import SourceContract
from ticketscan_jira.source import JiraSettings, JiraSource

WEBHOOKS = "jira/webhooks/mattermost-plugin-jira"
SAMPLES = ["webhook-issue-created.json", "webhook-cloud-comment-created.json",
           "webhook-issue-updated-edited.json", "webhook-server-issue-updated-commented-2.json",
           "webhook-cloud-comment-deleted.json"]


class TestJiraSourceContract(SourceContract):
    source_name = "jira"

    @pytest.fixture(autouse=True)
    def _fake(self, fixtures_dir: Path) -> Iterator[None]:
        root = fixtures_dir / WEBHOOKS
        self.payloads = [json.loads((root / n).read_text("utf-8")) for n in SAMPLES]
        with FakeJira(fixtures_dir, flavor="cloud") as fake:
            for payload in self.payloads:
                key = payload["issue"]["key"]
                if key not in fake.issues:
                    fake.add_issue(key, description=f"key {FAKE_SECRETS['aws-1']}")
                    fake.add_attachment(key, "notes.txt", b"plain notes\n")
                comment = payload.get("comment")
                if comment:  # give the comment the id the webhook names
                    fake._next_id = int(comment["id"]) - 1
                    fake.add_comment(key, "a comment")
            self.fake = fake
            yield

    def source(self) -> Source:
        values = {**self.fake.settings(), "token": self.fake.token}
        return JiraSource(JiraSettings.model_validate(values))

    def events(self) -> Sequence[tuple[dict[str, Any], dict[str, str]]]:
        return [(p, {"x-atlassian-webhook-identifier": f"contract-{i}"})
                for i, p in enumerate(self.payloads)]

    def malformed_events(self) -> Sequence[dict[str, Any]]:
        return [{"completely": "unrelated"}, {"webhookEvent": "comment_created"},
                {"webhookEvent": "comment_created", "issue": {"key": "SEC-1"}}]
