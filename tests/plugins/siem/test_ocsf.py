"""ocsf sink: OCSF 1.5 Detection Findings, validated against the schema in py-ocsf-models.

Validation is strict in both directions: the event must parse as ``DetectionFinding`` (types,
required fields, enum ids) and dumping the parsed model must give back exactly our event, so no
field we send is unknown to the schema (pydantic would otherwise drop it silently).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from siem_fakehttp import FakeServer, json_response
from siem_rsyslogd import Rsyslog, start_rsyslog, stop_rsyslog
from ticketscan.components import PublishContext
from ticketscan.models import Severity, Verified
from ticketscan.testing import SAMPLE_SECRETS, SinkContract, assert_no_secrets, sample_findings
from ticketscan_siem.ocsf import OcsfSink, to_ocsf


def assert_valid_ocsf(event: dict[str, Any]) -> None:
    model = DetectionFinding.model_validate(event)
    assert json.loads(model.model_dump_json(exclude_none=True)) == event
    assert event["class_uid"] == 2004 and event["type_uid"] == 200401
    assert event["category_uid"] == 2


class TestOcsfFileContract(SinkContract):
    sink_name = "ocsf"

    def make_settings(self, tmp_path: Path) -> dict[str, Any]:
        return {"output": "file", "path": "ocsf.jsonl"}

    def delivered(self, tmp_path: Path) -> list[str | bytes]:
        text = (tmp_path / "ocsf.jsonl").read_text()
        for line in text.splitlines():
            assert_valid_ocsf(json.loads(line))
        return [text]


@pytest.mark.parametrize("severity", list(Severity))
@pytest.mark.parametrize("verified", list(Verified))
def test_every_severity_and_verified_state_validates(
    severity: Severity, verified: Verified
) -> None:
    for finding in sample_findings():
        event = to_ocsf(finding.model_copy(update={"severity": severity, "verified": verified}))
        assert_valid_ocsf(event)


def test_event_fields_map_the_finding() -> None:
    finding = sample_findings()[0]
    event = to_ocsf(finding)
    assert event["finding_info"]["uid"] == finding.fingerprint
    assert event["metadata"]["uid"] == finding.id
    assert event["resources"][0]["uid"] == "jira:SEC-1"
    assert event["resources"][0]["data"]["line"] == finding.location.line
    assert event["unmapped"]["secret_sha256"] == finding.secret_sha256
    assert event["severity_id"] == {"low": 2, "medium": 3, "high": 4, "critical": 5}[
        finding.severity.value]


def test_http_output_posts_a_json_array(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeServer(lambda req: json_response(200, {"ok": True})).start()
    try:
        sink = OcsfSink(OcsfSink.Settings.model_validate(
            {"output": "http", "url": server.url + "/ingest", "allow_http": True,
             "token": "bearer-test"}))
        assert sink.publish(sample_findings(), PublishContext(out_dir=tmp_path)).ok
        (req,) = server.requests
        assert req.headers["authorization"] == "Bearer bearer-test"
        events = json.loads(req.raw)
        assert len(events) == 3
        for event in events:
            assert_valid_ocsf(event)
        assert_no_secrets(server.bodies(), SAMPLE_SECRETS.values())
    finally:
        server.stop()


@pytest.fixture
def syslogd(tmp_path: Path) -> Iterator[Rsyslog]:
    server = start_rsyslog(tmp_path / "rsyslog")
    yield server
    stop_rsyslog(server)


def test_syslog_output_through_rsyslog(syslogd: Rsyslog, tmp_path: Path) -> None:
    sink = OcsfSink(OcsfSink.Settings.model_validate(
        {"output": "syslog", "syslog": {"port": syslogd.tls_port, "protocol": "tls",
                                        "ca_file": str(syslogd.tls.ca)}}))
    assert sink.publish(sample_findings(), PublishContext(out_dir=tmp_path)).ok
    sink.close()
    lines = syslogd.wait_for(3)
    for line in lines:
        m = re.match(r"^<\d+>1 \S+ \S+ ticketscan - ocsf \[.*?\] (\{.*\})$", line)
        assert m, line
        assert_valid_ocsf(json.loads(m.group(1)))
    assert_no_secrets(lines, SAMPLE_SECRETS.values())
