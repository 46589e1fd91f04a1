"""splunk-hec sink against a FAKE HEC (no Splunk can run here), driven by the sink's httpx client.

The fake follows Splunk's documented /services/collector/event contract: token in
``Authorization: Splunk <token>``, body = concatenated JSON event objects (optionally gzip),
answers ``{"text": "Success", "code": 0}``; errors as documented: 403 code 4 "Invalid token",
400 code 7 "Incorrect index", 503 code 9 "Server is busy", and 429 with Retry-After.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from siem_fakehttp import FakeServer, Request, json_response
from siem_tls import make_tls
from ticketscan.components import PublishContext
from ticketscan.delivery import DeliverySettings, RetrySettings
from ticketscan.testing import SAMPLE_SECRETS, SinkContract, assert_no_secrets, sample_findings
from ticketscan_siem.hec import SplunkHecSink

TOKEN = "5a1c0e7e-hec-test-token-2f9b"


def hec_responder(req: Request) -> tuple[int, dict[str, str], bytes]:
    if req.path != "/services/collector/event":
        return json_response(404, {"text": "The requested URL was not found", "code": 404})
    if req.headers.get("authorization") != f"Splunk {TOKEN}":
        return json_response(403, {"text": "Invalid token", "code": 4})
    try:
        events = req.json_lines()
    except ValueError:
        return json_response(400, {"text": "Invalid data format", "code": 6})
    if not events:
        return json_response(400, {"text": "No data", "code": 5})
    if any("event" not in e for e in events):
        return json_response(400, {"text": "Event field is required", "code": 12})
    return json_response(200, {"text": "Success", "code": 0})


@pytest.fixture
def hec() -> Iterator[FakeServer]:
    server = FakeServer(hec_responder).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEC_TOKEN", TOKEN)


def _sink(url: str, **extra: Any) -> SplunkHecSink:
    return SplunkHecSink(SplunkHecSink.Settings.model_validate(
        {"url": url, "token": TOKEN, "index": "security", **extra}
    ))


FAST = DeliverySettings(retry=RetrySettings(max_attempts=4, initial_backoff=0.01, max_elapsed=10))


class TestHecContract(SinkContract):
    sink_name = "splunk-hec"

    @pytest.fixture(autouse=True)
    def _server(self, hec: FakeServer) -> None:
        self.server = hec

    def make_settings(self, tmp_path: Path) -> dict[str, Any]:
        return {"url": self.server.url, "token": TOKEN}

    def delivered(self, tmp_path: Path) -> list[str | bytes]:
        return [*self.server.bodies(), *(str(r.headers) for r in self.server.requests)]


def test_events_carry_metadata_and_are_gzipped(hec: FakeServer, tmp_path: Path) -> None:
    findings = sample_findings()
    sink = _sink(hec.url, source="ts", sourcetype="ticketscan:finding", host="scanner-1")
    report = sink.publish(findings, PublishContext(out_dir=tmp_path))
    assert report.ok, report
    (req,) = hec.requests
    assert req.headers["content-encoding"] == "gzip"
    assert req.headers["x-splunk-request-channel"]
    events = req.json_lines()
    assert [e["event"]["id"] for e in events] == [f.id for f in findings]
    for event, finding in zip(events, findings, strict=True):
        assert event["index"] == "security" and event["source"] == "ts"
        assert event["sourcetype"] == "ticketscan:finding" and event["host"] == "scanner-1"
        assert event["fields"]["secret_type"] == finding.type
        assert event["event"]["secret_sha256"] == finding.secret_sha256
    assert_no_secrets(hec.bodies(), SAMPLE_SECRETS.values())


def test_findings_are_batched(hec: FakeServer, tmp_path: Path) -> None:
    base = sample_findings()
    many = [f.model_copy(update={"id": f"{f.id[:-4]}{i:04d}"}) for i in range(10) for f in base]
    policy = DeliverySettings(batch_size=7)
    report = _sink(hec.url, gzip=False).publish(many, PublishContext(out_dir=tmp_path,
                                                                     delivery=policy))
    assert report.ok and len(report.delivered) == 30
    assert [len(r.json_lines()) for r in hec.requests] == [7, 7, 7, 7, 2]
    assert "content-encoding" not in hec.requests[0].headers


def test_busy_server_is_retried(hec: FakeServer, tmp_path: Path) -> None:
    hec.script = [json_response(503, {"text": "Server is busy", "code": 9})] * 2
    report = _sink(hec.url).publish(sample_findings(), PublishContext(out_dir=tmp_path,
                                                                      delivery=FAST))
    assert report.ok
    assert len(hec.requests) == 3


def test_429_retry_after_is_honoured(hec: FakeServer, tmp_path: Path) -> None:
    hec.script = [json_response(429, {"text": "Too many requests", "code": 9},
                                {"Retry-After": "1"})]
    started = time.monotonic()
    report = _sink(hec.url).publish(sample_findings(), PublishContext(out_dir=tmp_path,
                                                                      delivery=FAST))
    assert report.ok and len(hec.requests) == 2
    assert time.monotonic() - started >= 0.9


def test_invalid_token_fails_at_once(hec: FakeServer, tmp_path: Path) -> None:
    sink = SplunkHecSink(SplunkHecSink.Settings.model_validate(
        {"url": hec.url, "token": "wrong-token-value"}))
    report = sink.publish(sample_findings(), PublishContext(out_dir=tmp_path, delivery=FAST))
    assert len(hec.requests) == 1
    assert set(report.failed.values()) == {"splunk-hec: HEC code 4 (Invalid token)"}
    assert "wrong-token-value" not in report.model_dump_json()


def test_incorrect_index_fails(hec: FakeServer, tmp_path: Path) -> None:
    hec.script = [
        json_response(400, {"text": "Incorrect index", "code": 7, "invalid-event-number": 0})
    ]
    report = _sink(hec.url).publish(sample_findings(), PublishContext(out_dir=tmp_path,
                                                                      delivery=FAST))
    assert len(hec.requests) == 1
    assert "Incorrect index" in next(iter(report.failed.values()))


def test_retries_are_bounded(hec: FakeServer, tmp_path: Path) -> None:
    busy = {"text": "HEC is unhealthy, queues are full", "code": 18}
    hec.script = [json_response(503, busy)] * 10
    report = _sink(hec.url).publish(sample_findings(), PublishContext(out_dir=tmp_path,
                                                                      delivery=FAST))
    assert len(hec.requests) == 4
    assert len(report.failed) == 3 and "queues are full" in next(iter(report.failed.values()))


def test_tls_is_verified_by_default(tmp_path: Path) -> None:
    tls = make_tls(tmp_path / "tls")
    server = FakeServer(hec_responder).start(tls=(tls.cert, tls.key))
    try:
        untrusted = _sink(server.url).publish(sample_findings(), PublishContext(out_dir=tmp_path))
        assert not untrusted.ok and "not trusted" in next(iter(untrusted.failed.values()))
        assert server.requests == []
        trusted = _sink(server.url, ca_file=str(tls.ca)).publish(
            sample_findings(), PublishContext(out_dir=tmp_path))
        assert trusted.ok and len(server.requests) == 1
    finally:
        server.stop()


def test_token_must_be_given_by_reference(tmp_path: Path) -> None:
    from ticketscan.config import load_config
    from ticketscan.errors import ConfigError

    cfg = tmp_path / "ticketscan.toml"
    cfg.write_text('[sinks.splunk-hec]\nurl = "https://x"\ntoken = "literal"\n')
    config = load_config(cfg, env={})
    with pytest.raises(ConfigError, match="by reference"):
        config.settings_for(SplunkHecSink)
    cfg.write_text('[sinks.splunk-hec]\nurl = "https://x"\ntoken = { env = "HEC_TOKEN" }\n')
    settings = load_config(cfg, env={}).settings_for(SplunkHecSink)
    assert settings.token.get_secret_value() == TOKEN  # type: ignore[attr-defined]
