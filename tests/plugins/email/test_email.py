"""email sink through aiosmtpd, a real SMTP server, with STARTTLS, implicit TLS and AUTH."""

from __future__ import annotations

import email
import email.policy
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from siem_ports import closed_port
from siem_tls import TlsFiles, make_tls
from ticketscan.components import PublishContext
from ticketscan.delivery import DeliverySettings, RetrySettings
from ticketscan.models import Severity
from ticketscan.testing import SAMPLE_SECRETS, SinkContract, assert_no_secrets, sample_findings
from ticketscan_email.sink import EmailSink

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

USER, PASSWORD = "scanner", "smtp-test-password-9c1"


@dataclass
class Mailbox:
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"

    def parsed(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
                for _, raw in self.messages]


@dataclass
class Smtp:
    port: int
    box: Mailbox
    tls: TlsFiles


def _authenticator(box: Mailbox) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == USER and \
            data.password.decode() == PASSWORD
        if ok:
            box.logins.append(mechanism)
        return AuthResult(success=ok, handled=False)
    return check


def _start(tmp_path: Path, implicit: bool) -> tuple[Controller, Smtp]:
    tls = make_tls(tmp_path / "tls")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tls.cert, tls.key)
    box = Mailbox()
    kwargs: dict[str, Any] = {
        "hostname": "127.0.0.1", "port": closed_port(), "authenticator": _authenticator(box),
        "auth_required": True, "auth_require_tls": True,
        # aiosmtpd's LOGIN with smtplib's initial-response form stalls; PLAIN is what we test
        "auth_exclude_mechanism": ["LOGIN"],
    }
    if implicit:
        # the whole connection is TLS; aiosmtpd's auth_require_tls only knows STARTTLS
        kwargs.update(ssl_context=ctx, auth_require_tls=False)
    else:
        kwargs.update(tls_context=ctx, require_starttls=True)
    controller = Controller(box, **kwargs)
    controller.start()
    return controller, Smtp(kwargs["port"], box, tls)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[Smtp]:
    controller, server = _start(tmp_path, implicit=False)
    yield server
    controller.stop()


@pytest.fixture
def smtps(tmp_path: Path) -> Iterator[Smtp]:
    controller, server = _start(tmp_path, implicit=True)
    yield server
    controller.stop()


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)


def _settings(server: Smtp, **extra: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": server.port, "security": "starttls",
            "username": USER, "password": PASSWORD, "ca_file": str(server.tls.ca),
            "sender": "ticketscan@example.com", "default_to": ["secops@example.com"],
            "timeout": 5, **extra}


def _sink(server: Smtp, **extra: Any) -> EmailSink:
    return EmailSink(EmailSink.Settings.model_validate(_settings(server, **extra)))


class TestEmailContract(SinkContract):
    sink_name = "email"

    @pytest.fixture(autouse=True)
    def _server(self, smtp: Smtp) -> None:
        self.server = smtp

    def make_settings(self, tmp_path: Path) -> dict[str, Any]:
        return _settings(self.server)

    def delivered(self, tmp_path: Path) -> list[str | bytes]:
        return [raw for _, raw in self.server.box.messages]


def test_digest_is_multipart_text_and_html(smtp: Smtp, tmp_path: Path) -> None:
    findings = sample_findings("SEC-7")
    report = _sink(smtp).publish(findings, PublishContext(out_dir=tmp_path))
    assert report.ok, report
    assert smtp.box.logins  # AUTH happened (over TLS: aiosmtpd refuses it otherwise)
    (msg,) = smtp.box.parsed()
    assert msg["From"] == "ticketscan@example.com" and msg["To"] == "secops@example.com"
    assert "3 secret(s) in jira ticket SEC-7" in msg["Subject"]
    assert msg["Subject"].startswith("[ticketscan] CRITICAL")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for f in findings:
        assert f.redacted in text and f.type in text and f.location.path in text
        assert f.type in html
    assert 'href="https://jira.example.com/browse/SEC-7"' in html
    assert "AKIA…[20 chars]" in html
    assert_no_secrets([raw for _, raw in smtp.box.messages], SAMPLE_SECRETS.values())


def test_implicit_tls(smtps: Smtp, tmp_path: Path) -> None:
    report = _sink(smtps, security="tls").publish(sample_findings(),
                                                  PublishContext(out_dir=tmp_path))
    assert report.ok, report
    assert len(smtps.box.messages) == 1


def test_recipients_are_routed_by_rule(smtp: Smtp, tmp_path: Path) -> None:
    findings = sample_findings("SEC-1") + sample_findings("OPS-1")
    findings = [f.model_copy(update={"ticket": f.ticket.model_copy(
        update={"project": f.ticket.key.split("-")[0]})}) for f in findings]
    rules = [
        {"projects": ["SEC"], "to": ["sec-team@example.com"]},
        {"min_severity": "critical", "to": ["ciso@example.com"]},
    ]
    sink = _sink(smtp, recipients=rules, default_to=[])
    report = sink.publish(findings, PublishContext(out_dir=tmp_path))
    assert report.ok
    got = sorted((tuple(sorted(rcpt)), m["X-Ticketscan-Ticket"]) for (rcpt, _), m in
                 zip(smtp.box.messages, smtp.box.parsed(), strict=True))
    critical = [f for f in findings if f.severity == Severity.CRITICAL]
    assert got == sorted([
        (("ciso@example.com", "sec-team@example.com"), "jira:SEC-1"),
        (("sec-team@example.com",), "jira:SEC-1"),
        (("ciso@example.com",), "jira:OPS-1"),
    ])
    ops_not_critical = {f.id for f in findings
                        if f.ticket.key == "OPS-1" and f not in critical}
    assert set(report.suppressed) == ops_not_critical


def test_wrong_password_fails_without_retry(smtp: Smtp, tmp_path: Path) -> None:
    sink = _sink(smtp, password="wrong-password")
    policy = DeliverySettings(retry=RetrySettings(max_attempts=3, initial_backoff=0.01))
    report = sink.publish(sample_findings(), PublishContext(out_dir=tmp_path, delivery=policy))
    assert not report.ok and "login refused (535)" in next(iter(report.failed.values()))
    assert "wrong-password" not in report.model_dump_json()
    assert smtp.box.messages == []


def test_untrusted_certificate_fails(smtp: Smtp, tmp_path: Path) -> None:
    sink = _sink(smtp, ca_file=None)
    report = sink.publish(sample_findings(), PublishContext(out_dir=tmp_path))
    assert "not trusted" in next(iter(report.failed.values()))


def test_down_server_is_retried_then_failed(tmp_path: Path) -> None:
    sink = EmailSink(EmailSink.Settings.model_validate(
        {"host": "127.0.0.1", "port": closed_port(), "default_to": ["a@example.com"]}))
    policy = DeliverySettings(retry=RetrySettings(max_attempts=2, initial_backoff=0.01))
    report = sink.publish(sample_findings(), PublishContext(out_dir=tmp_path, delivery=policy))
    assert "unavailable" in next(iter(report.failed.values()))
