"""syslog sink against a real rsyslogd (UDP, TCP octet-counting, TLS): every field checked."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from siem_rsyslogd import Rsyslog, start_rsyslog, stop_rsyslog
from ticketscan import __version__
from ticketscan.components import PublishContext
from ticketscan.delivery import DeliverySettings, RetrySettings
from ticketscan.models import Finding
from ticketscan.testing import SAMPLE_SECRETS, SinkContract, assert_no_secrets, sample_findings
from ticketscan_siem import cef
from ticketscan_siem.syslog import SyslogSink

pytestmark = pytest.mark.integration

RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>\[(?:[^\]\\]|\\.)*\]|-) (?P<msg>.*)$"
)


@pytest.fixture
def syslogd(tmp_path: Path) -> Iterator[Rsyslog]:
    server = start_rsyslog(tmp_path / "rsyslog")
    yield server
    stop_rsyslog(server)


def _sink(server: Rsyslog, protocol: str, **extra: Any) -> SyslogSink:
    port = {"udp": server.udp_port, "tcp": server.tcp_port, "tls": server.tls_port}[protocol]
    return SyslogSink(SyslogSink.Settings(
        host="127.0.0.1", port=port, protocol=protocol, ca_file=str(server.tls.ca),
        hostname="scanner-1", **extra,
    ))


class _RsyslogContract(SinkContract):
    sink_name = "syslog"
    protocol = "tcp"

    @pytest.fixture(autouse=True)
    def _server(self, syslogd: Rsyslog) -> None:
        self.server = syslogd

    def make_settings(self, tmp_path: Path) -> dict[str, Any]:
        port = {"udp": self.server.udp_port, "tcp": self.server.tcp_port,
                "tls": self.server.tls_port}[self.protocol]
        return {"port": port, "protocol": self.protocol, "ca_file": str(self.server.tls.ca)}

    def delivered(self, tmp_path: Path) -> list[str | bytes]:
        return [self.server.out.read_bytes(), *self.server.wait_for(3)]


class TestSyslogTcpContract(_RsyslogContract):
    protocol = "tcp"


class TestSyslogUdpContract(_RsyslogContract):
    protocol = "udp"


class TestSyslogTlsContract(_RsyslogContract):
    protocol = "tls"


def _check_line(line: str, finding: Finding) -> None:
    m = RFC5424.match(line)
    assert m, line
    assert int(m["pri"]) == 10 * 8 + {"critical": 2, "high": 3, "medium": 4, "low": 5}[
        finding.severity.value]
    assert m["ts"].endswith("Z")
    assert (m["host"], m["app"], m["procid"], m["msgid"]) == ("scanner-1", "ticketscan", "-",
                                                               "finding")
    assert f'id="{finding.id}"' in m["sd"] and f'fingerprint="{finding.fingerprint}"' in m["sd"]
    rec = cef.parse(m["msg"])
    assert (rec.vendor, rec.product, rec.version) == ("ticketscan", "ticketscan", __version__)
    assert rec.signature_id == finding.type
    assert rec.name.endswith(" in ticket")
    assert rec.severity == str(cef.SEVERITY[finding.severity])
    ext = rec.ext()
    expected = {
        "externalId": finding.id,
        "cat": finding.type,
        "request": finding.ticket.url,
        "fname": finding.location.path,
        "cs1Label": "ticket", "cs1": f"jira:{finding.ticket.key}",
        "cs2Label": "secretSha256", "cs2": finding.secret_sha256,
        "cs3Label": "fingerprint", "cs3": finding.fingerprint,
        "cs4Label": "verified", "cs4": finding.verified.value,
        "cs5Label": "scanners", "cs5": ",".join(finding.scanners),
        "cs6Label": "redacted", "cs6": finding.redacted,
        "cn1Label": "line", "cn1": str(finding.location.line),
        "cfp1Label": "confidence", "cfp1": f"{finding.confidence:.2f}",
        "flexString1Label": "project", "flexString1": finding.ticket.project,
    }
    for key, value in expected.items():
        assert ext[key] == value, key
    assert finding.redacted in ext["msg"] and finding.ticket.key in ext["msg"]
    assert abs(int(ext["rt"]) / 1000 - time.time()) < 3600 * 24 * 365 * 5
    assert set(ext) == set(expected) | {"msg", "rt"}


@pytest.mark.parametrize("protocol", ["udp", "tcp", "tls"])
def test_every_cef_field_arrives_over(protocol: str, syslogd: Rsyslog, tmp_path: Path) -> None:
    findings = sample_findings()
    sink = _sink(syslogd, protocol)
    report = sink.publish(findings, PublishContext(out_dir=tmp_path))
    sink.close()
    assert report.ok and sorted(report.delivered) == sorted(f.id for f in findings)
    lines = syslogd.wait_for(len(findings))
    by_id = {f.id: f for f in findings}
    seen = set()
    for line in lines:
        ext = cef.parse(line).ext()
        _check_line(line, by_id[ext["externalId"]])
        seen.add(ext["externalId"])
    assert seen == set(by_id)
    assert_no_secrets(lines, SAMPLE_SECRETS.values())


def test_tcp_frames_use_octet_counting_so_many_messages_stay_apart(
    syslogd: Rsyslog, tmp_path: Path
) -> None:
    findings = sample_findings("BULK-1") * 1
    many = [f.model_copy(update={"id": f"{f.id[:-4]}{i:04d}"}) for i in range(40) for f in findings]
    sink = _sink(syslogd, "tcp")
    report = sink.publish(many, PublishContext(out_dir=tmp_path))
    sink.close()
    assert report.ok
    lines = syslogd.wait_for(len(many))
    assert len(lines) == len(many)
    assert {cef.parse(line).ext()["externalId"] for line in lines} == {f.id for f in many}


def test_json_payload_carries_the_finding(syslogd: Rsyslog, tmp_path: Path) -> None:
    findings = sample_findings()
    sink = _sink(syslogd, "tcp", format="json", facility="local3")
    assert sink.publish(findings, PublishContext(out_dir=tmp_path)).ok
    sink.close()
    lines = syslogd.wait_for(len(findings))
    for line in lines:
        m = RFC5424.match(line)
        assert m and int(m["pri"]) // 8 == 19
        data = json.loads(m["msg"])
        original = next(f for f in findings if f.id == data["id"])
        assert Finding.model_validate(data) == original
    assert_no_secrets(lines, SAMPLE_SECRETS.values())


def test_tls_with_an_untrusted_certificate_fails_without_retrying(
    syslogd: Rsyslog, tmp_path: Path
) -> None:
    sink = SyslogSink(SyslogSink.Settings(port=syslogd.tls_port, protocol="tls"))
    started = time.monotonic()
    report = sink.publish(sample_findings(), PublishContext(out_dir=tmp_path))
    assert not report.ok and len(report.failed) == 3
    assert all("not trusted" in reason for reason in report.failed.values())
    assert time.monotonic() - started < 5
    assert syslogd.lines() == []


def test_unreachable_server_is_retried_then_reported_failed(tmp_path: Path) -> None:
    from siem_ports import closed_port

    sink = SyslogSink(SyslogSink.Settings(port=closed_port(), protocol="tcp"))
    policy = DeliverySettings(retry=RetrySettings(max_attempts=3, initial_backoff=0.01,
                                                  max_elapsed=5))
    calls = []
    original = sink._sender._connect

    def counting() -> Any:
        calls.append(1)
        return original()

    sink._sender._connect = counting  # type: ignore[method-assign]
    report = sink.publish(sample_findings(), PublishContext(out_dir=tmp_path, delivery=policy))
    assert len(calls) == 3
    assert set(report.failed) == {f.id for f in sample_findings()}
    assert all("Connection refused" in r or "refused" in r for r in report.failed.values())


# ------------------------------------------------------------------------ CEF properties

ANY = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
TRICKY = st.text(alphabet="|\\=\n\r ab=c|\\", max_size=40)
VALUES = st.one_of(ANY, TRICKY)


@given(VALUES)
def test_cef_extension_escaping_round_trips(value: str) -> None:
    escaped = cef.escape_extension(value)
    assert "\n" not in escaped and "\r" not in escaped
    assert cef.unescape(escaped) == value


@given(VALUES)
def test_cef_header_escaping_round_trips(value: str) -> None:
    escaped = cef.escape_header(value)
    assert "\n" not in escaped
    assert cef.unescape(escaped) == value


@settings(max_examples=300)
@given(
    header=st.lists(VALUES, min_size=6, max_size=6),
    ext=st.lists(
        st.tuples(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,15}", fullmatch=True), VALUES),
        max_size=8,
    ),
)
def test_cef_records_round_trip(header: list[str], ext: list[tuple[str, str]]) -> None:
    record = cef.CefRecord(*header, extension=ext)
    text = cef.format_record(record)
    assert "\n" not in text and "\r" not in text
    assert cef.parse(text) == record


@given(st.text(max_size=200))
def test_cef_parser_never_crashes_on_garbage(text: str) -> None:
    with contextlib.suppress(ValueError):
        cef.parse(text)
