"""webhook sink: HMAC-signed JSON POST, checked by a local receiver that verifies signatures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from siem_fakehttp import FakeServer, Request, json_response
from ticketscan.components import PublishContext
from ticketscan.delivery import DeliverySettings, RetrySettings
from ticketscan.errors import ConfigError
from ticketscan.testing import SAMPLE_SECRETS, SinkContract, assert_no_secrets, sample_findings
from ticketscan_siem.webhook import WebhookSink, verify_signature

KEY = "whsec-test-7f1e2d"


def receiver(req: Request) -> tuple[int, dict[str, str], bytes]:
    if not verify_signature(KEY.encode(), req.raw, req.headers.get("x-ticketscan-signature", "")):
        return json_response(401, {"error": "bad signature"})
    return json_response(202, {"accepted": len(json.loads(req.raw)["findings"])})


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer(receiver).start()
    yield s
    s.stop()


def _sink(url: str, key: str = KEY) -> WebhookSink:
    return WebhookSink(WebhookSink.Settings.model_validate(
        {"url": url, "secret": key, "allow_http": True, "headers": {"X-Tenant": "acme"}}))


class TestWebhookContract(SinkContract):
    sink_name = "webhook"

    @pytest.fixture(autouse=True)
    def _server(self, server: FakeServer) -> None:
        self.server = server

    def make_settings(self, tmp_path: Path) -> dict[str, Any]:
        return {"url": self.server.url, "secret": KEY, "allow_http": True}

    def delivered(self, tmp_path: Path) -> list[str | bytes]:
        return [*self.server.bodies(), *(str(r.headers) for r in self.server.requests)]


def test_signature_header_is_an_hmac_of_the_body(server: FakeServer, tmp_path: Path) -> None:
    findings = sample_findings()
    report = _sink(server.url).publish(findings, PublishContext(out_dir=tmp_path))
    assert report.ok, report
    (req,) = server.requests
    assert req.headers["x-ticketscan-signature"].startswith("sha256=")
    assert verify_signature(KEY.encode(), req.raw, req.headers["x-ticketscan-signature"])
    assert not verify_signature(b"other", req.raw, req.headers["x-ticketscan-signature"])
    assert req.headers["x-tenant"] == "acme"
    body = json.loads(req.raw)
    assert [f["id"] for f in body["findings"]] == [f.id for f in findings]
    assert len(body["batch_id"]) == 32 and body["sent_at"]
    assert_no_secrets(server.bodies(), SAMPLE_SECRETS.values())


def test_wrong_key_is_refused_and_not_retried(server: FakeServer, tmp_path: Path) -> None:
    policy = DeliverySettings(retry=RetrySettings(max_attempts=3, initial_backoff=0.01))
    context = PublishContext(out_dir=tmp_path, delivery=policy)
    report = _sink(server.url, key="wrong").publish(sample_findings(), context)
    assert len(server.requests) == 1
    assert all("HTTP 401" in r for r in report.failed.values())


def test_5xx_is_retried(server: FakeServer, tmp_path: Path) -> None:
    server.script = [json_response(502, {"error": "bad gateway"})]
    policy = DeliverySettings(retry=RetrySettings(max_attempts=3, initial_backoff=0.01))
    report = _sink(server.url).publish(sample_findings(),
                                       PublishContext(out_dir=tmp_path, delivery=policy))
    assert report.ok and len(server.requests) == 2


def test_plain_http_is_refused_unless_allowed() -> None:
    with pytest.raises(ConfigError, match="https"):
        WebhookSink(WebhookSink.Settings.model_validate({"url": "http://x", "secret": KEY}))
