"""slack sink against a FAKE Slack (no Slack server can run here), driven by the real slack-sdk.

The fake follows Slack's documented shapes: incoming webhooks answer ``200 ok`` (text) or an
error text such as ``400 invalid_blocks`` / ``403 invalid_token``; the Web API's
``chat.postMessage`` answers ``{"ok": true, "channel", "ts", "message"}`` or
``{"ok": false, "error": "..."}``; rate limits are HTTP 429 with ``Retry-After`` (seconds).
It enforces the Block Kit limits we must respect (50 blocks, 3000-char section text, 150-char
header, 10 fields), so a message that would be rejected by Slack is rejected here too.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ticketscan.components import PublishContext
from ticketscan.delivery import DeliverySettings, RetrySettings
from ticketscan.models import Severity
from ticketscan.testing import SAMPLE_SECRETS, SinkContract, assert_no_secrets, sample_findings
from ticketscan_slack.sink import SlackSink

TOKEN = "xoxb-000000000000-fake-test-token"
HOOK_PATH = "/services/T000/B000/faketestpath"


def _blocks_error(blocks: list[dict[str, Any]]) -> str | None:
    if len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        text = block.get("text", {}).get("text", "")
        if block["type"] == "header" and len(text) > 150:
            return "invalid_blocks"
        if len(text) > 3000 or len(block.get("fields", [])) > 10:
            return "invalid_blocks"
    return None


class FakeSlack:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.rate_limit_next = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.raw.append(raw)
                if fake.rate_limit_next:
                    fake.rate_limit_next -= 1
                    return self._reply(429, {"ok": False, "error": "ratelimited"},
                                       {"Retry-After": "1"})
                if self.path == HOOK_PATH:
                    payload = json.loads(raw)
                    error = _blocks_error(payload.get("blocks", []))
                    if error:
                        return self._text(400, error)
                    fake.messages.append(payload)
                    return self._text(200, "ok")
                if self.path.startswith("/services/"):
                    return self._text(403, "invalid_token")
                if self.path == "/api/chat.postMessage":
                    if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                        return self._reply(200, {"ok": False, "error": "invalid_auth"})
                    if "json" in self.headers.get("Content-Type", ""):
                        payload = json.loads(raw)
                    else:
                        payload = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
                        if "blocks" in payload:
                            payload["blocks"] = json.loads(payload["blocks"])
                    if payload.get("channel") != "C0SECURITY":
                        return self._reply(200, {"ok": False, "error": "channel_not_found"})
                    error = _blocks_error(payload.get("blocks", []))
                    if error:
                        return self._reply(200, {"ok": False, "error": error})
                    fake.messages.append(payload)
                    return self._reply(200, {"ok": True, "channel": "C0SECURITY",
                                             "ts": f"{time.time():.6f}", "message": payload})
                return self._reply(404, {"ok": False, "error": "unknown_method"})

            def _text(self, status: int, text: str) -> None:
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _reply(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.stop()


def _webhook_sink(fake: FakeSlack, path: str = HOOK_PATH) -> SlackSink:
    return SlackSink(SlackSink.Settings.model_validate({"webhook_url": fake.base + path}))


def _api_sink(fake: FakeSlack, channel: str = "C0SECURITY") -> SlackSink:
    return SlackSink(SlackSink.Settings.model_validate(
        {"token": TOKEN, "channel": channel, "base_url": fake.base + "/api/"}))


FAST = DeliverySettings(retry=RetrySettings(max_attempts=3, initial_backoff=0.01, max_elapsed=10))


class TestSlackWebhookContract(SinkContract):
    sink_name = "slack"

    @pytest.fixture(autouse=True)
    def _server(self, slack: FakeSlack) -> None:
        self.fake = slack

    def make_settings(self, tmp_path: Path) -> dict[str, Any]:
        return {"webhook_url": self.fake.base + HOOK_PATH}

    def delivered(self, tmp_path: Path) -> list[str | bytes]:
        return list(self.fake.raw)


class TestSlackApiContract(TestSlackWebhookContract):
    def make_settings(self, tmp_path: Path) -> dict[str, Any]:
        return {"token": TOKEN, "channel": "C0SECURITY", "base_url": self.fake.base + "/api/"}


def _many(n: int, key: str = "SEC-9") -> list:
    base = sample_findings(key)
    out = []
    for i in range(n):
        f = base[i % 3]
        out.append(f.model_copy(update={"id": f"{f.id[:-5]}{i:05d}",
                                        "type": f"{f.type}-{i % 14}"}))
    return out


def test_one_message_per_ticket_with_counts_and_link(slack: FakeSlack, tmp_path: Path) -> None:
    findings = sample_findings("SEC-1") + sample_findings("SEC-2")
    report = _webhook_sink(slack).publish(findings, PublishContext(out_dir=tmp_path))
    assert report.ok
    assert len(slack.messages) == 2
    first = slack.messages[0]
    text = json.dumps(first["blocks"], ensure_ascii=False)
    assert "<https://jira.example.com/browse/SEC-1|SEC-1>" in text
    assert "aws-access-key-id" in text and "AKIA…[20 chars]" in text
    assert "engines: contract" in text and "not verified" in text
    fields = next(b for b in first["blocks"] if "fields" in b)["fields"]
    assert len(fields) == 3 and all(f["text"].endswith("\n1") for f in fields)
    assert_no_secrets(slack.raw, SAMPLE_SECRETS.values())


def test_big_tickets_are_summarized_within_slack_limits(slack: FakeSlack, tmp_path: Path) -> None:
    findings = _many(120)
    report = _api_sink(slack).publish(findings, PublishContext(out_dir=tmp_path))
    assert report.ok, report.failed
    (message,) = slack.messages
    assert len(message["blocks"]) <= 50
    assert "…and 100 more finding(s)" in json.dumps(message["blocks"], ensure_ascii=False)
    fields = next(b for b in message["blocks"] if "fields" in b)["fields"]
    assert len(fields) == 10 and "other types" in fields[-1]["text"]


def test_most_severe_findings_are_listed_first(slack: FakeSlack, tmp_path: Path) -> None:
    findings = [f.model_copy(update={"severity": Severity.LOW}) for f in _many(30)]
    findings[17] = findings[17].model_copy(update={"severity": Severity.CRITICAL})
    _webhook_sink(slack).publish(findings, PublishContext(out_dir=tmp_path))
    listed = [b for b in slack.messages[0]["blocks"] if b["type"] == "section" and "text" in b]
    assert ":red_circle:" in listed[1]["text"]["text"]


def test_429_retry_after_is_honoured_for_webhooks(slack: FakeSlack, tmp_path: Path) -> None:
    slack.rate_limit_next = 1
    started = time.monotonic()
    report = _webhook_sink(slack).publish(sample_findings(),
                                          PublishContext(out_dir=tmp_path, delivery=FAST))
    assert report.ok and len(slack.messages) == 1 and len(slack.raw) == 2
    assert time.monotonic() - started >= 0.9


def test_429_retry_after_is_honoured_for_chat_post_message(slack: FakeSlack, tmp_path: Path
                                                           ) -> None:
    slack.rate_limit_next = 1
    started = time.monotonic()
    report = _api_sink(slack).publish(sample_findings(),
                                      PublishContext(out_dir=tmp_path, delivery=FAST))
    assert report.ok and len(slack.messages) == 1
    assert time.monotonic() - started >= 0.9


def test_api_errors_fail_without_retry(slack: FakeSlack, tmp_path: Path) -> None:
    report = _api_sink(slack, channel="C0NOPE").publish(
        sample_findings(), PublishContext(out_dir=tmp_path, delivery=FAST))
    assert len(slack.raw) == 1
    assert set(report.failed.values()) == {"slack: chat.postMessage failed: channel_not_found"}


def test_revoked_webhook_fails_and_the_url_is_not_reported(slack: FakeSlack, tmp_path: Path
                                                           ) -> None:
    report = _webhook_sink(slack, "/services/T000/B000/revoked").publish(
        sample_findings(), PublishContext(out_dir=tmp_path, delivery=FAST))
    assert not report.ok and len(slack.raw) == 1
    assert "403" in next(iter(report.failed.values()))
    assert "revoked" not in report.model_dump_json()


def test_settings_need_exactly_one_way_in() -> None:
    with pytest.raises(ValueError):
        SlackSink.Settings.model_validate({})
    with pytest.raises(ValueError):
        SlackSink.Settings.model_validate({"token": TOKEN})
