"""Syslog sink: RFC 5424 messages carrying CEF or JSON, over UDP, TCP or TLS.

TCP and TLS use octet-counting framing (RFC 6587 §3.4.1, RFC 5425): ``LEN SP MSG``; UDP sends
one message per datagram (RFC 5426). TLS verifies the server certificate by default.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from ticketscan import __version__
from ticketscan.components import ComponentSettings, PublishContext, Sink
from ticketscan.delivery import SinkRetryError
from ticketscan.errors import SinkError
from ticketscan.models import Finding, Severity, SinkReport

from .cef import finding_to_cef, format_record
from .common import finding_json, ssl_context

__all__ = ["SyslogSender", "SyslogSink", "SyslogTarget", "format_5424", "sd_escape"]

FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
    "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14,
    "local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21,
    "local6": 22, "local7": 23,
}
#: RFC 5424 severities: critical -> 2 (crit), high -> 3 (err), medium -> 4, low -> 5 (notice).
SYSLOG_SEVERITY = {Severity.CRITICAL: 2, Severity.HIGH: 3, Severity.MEDIUM: 4, Severity.LOW: 5}
#: RFC 5612 documentation enterprise number, used for our structured-data id.
SD_ID = "ticketscan@32473"


class SyslogTarget(BaseModel):
    """Where and how to send syslog messages."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535, description="514, or 6514 for TLS.")
    protocol: Literal["udp", "tcp", "tls"] = "tcp"
    facility: str = Field(default="authpriv", description="Syslog facility name.")
    app_name: str = "ticketscan"
    hostname: str | None = Field(default=None, description="HOSTNAME field (default: this host).")
    ca_file: str | None = Field(default=None, description="CA bundle for TLS (default: system).")
    cert_file: str | None = Field(default=None, description="Client certificate (mutual TLS).")
    key_file: str | None = None
    verify: bool = Field(default=True, description="Verify the TLS server certificate.")
    server_name: str | None = Field(default=None, description="TLS SNI/hostname to check.")
    timeout: float = Field(default=10.0, gt=0)
    bom: bool = Field(default=False, description="Prefix MSG with a UTF-8 BOM (RFC 5424 §6.4).")

    def resolved_port(self) -> int:
        return self.port or (6514 if self.protocol == "tls" else 514)

    def pri(self, severity: Severity) -> int:
        if self.facility not in FACILITIES:
            raise SinkError(
                f"unknown syslog facility {self.facility!r} (one of {', '.join(FACILITIES)})"
            )
        return FACILITIES[self.facility] * 8 + SYSLOG_SEVERITY[severity]


def sd_escape(value: str) -> str:
    """RFC 5424 §6.3.3: escape ``"``, ``\\`` and ``]`` in a PARAM-VALUE."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _header_token(value: str, limit: int) -> str:
    cleaned = "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit]
    return cleaned or "-"


def format_5424(
    target: SyslogTarget, finding: Finding, msg: str, *, msgid: str = "finding",
    now: datetime | None = None, procid: str = "-",
) -> bytes:
    stamp = (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    host = _header_token(target.hostname or socket.gethostname(), 255)
    sd = (
        f'[{SD_ID} id="{sd_escape(finding.id)}" fingerprint="{sd_escape(finding.fingerprint)}"'
        f' ticket="{sd_escape(finding.ticket.system + ":" + finding.ticket.key)}"'
        f' type="{sd_escape(finding.type)}"]'
    )
    head = (
        f"<{target.pri(finding.severity)}>1 {stamp} {host} {_header_token(target.app_name, 48)}"
        f" {_header_token(procid, 128)} {_header_token(msgid, 32)} {sd} "
    )
    body = msg.encode("utf-8", "replace")
    return head.encode("ascii") + (b"\xef\xbb\xbf" if target.bom else b"") + body


class SyslogSender:
    """Sends RFC 5424 messages; reconnects after an error (the retry opens a new socket)."""

    def __init__(self, target: SyslogTarget, sink: str) -> None:
        self.target = target
        self.sink = sink
        self._sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        t = self.target
        port = t.resolved_port()
        if t.protocol == "udp":
            sock = socket.socket(socket.AF_INET6 if ":" in t.host else socket.AF_INET,
                                 socket.SOCK_DGRAM)
            sock.settimeout(t.timeout)
            sock.connect((t.host, port))
            return sock
        raw = socket.create_connection((t.host, port), timeout=t.timeout)
        if t.protocol == "tcp":
            return raw
        ctx = ssl_context(verify=t.verify, ca_file=t.ca_file, cert_file=t.cert_file,
                          key_file=t.key_file)
        try:
            return ctx.wrap_socket(raw, server_hostname=t.server_name or t.host)
        except ssl.SSLCertVerificationError as exc:
            raw.close()
            raise SinkError(
                f"TLS certificate of {t.host}:{port} not trusted: {exc.verify_message}",
                plugin=self.sink,
                hint="set ca_file to the CA that signed the syslog server's certificate",
            ) from None
        except BaseException:
            raw.close()
            raise

    def send(self, messages: Sequence[bytes]) -> None:
        if self._sock is None:
            self._sock = self._connect()
        try:
            if self.target.protocol == "udp":
                for message in messages:
                    self._sock.send(message)
            else:
                frames = b"".join(str(len(m)).encode() + b" " + m for m in messages)
                self._sock.sendall(frames)
        except OSError as exc:
            self.close()
            raise SinkRetryError(f"sending to {self.target.host} failed: {exc}",
                                 plugin=self.sink) from exc

    def close(self) -> None:
        if self._sock is not None:
            try:
                if isinstance(self._sock, ssl.SSLSocket):
                    self._sock.unwrap()
            except (OSError, ValueError):
                pass
            self._sock.close()
            self._sock = None


class SyslogSink(Sink):
    """RFC 5424 syslog with a CEF (ArcSight) or JSON payload, one message per finding."""

    name = "syslog"
    description = "syslog RFC 5424 (CEF or JSON) over UDP, TCP or TLS"
    batch_size = 200

    class Settings(SyslogTarget, ComponentSettings):
        format: Literal["cef", "json"] = Field(default="cef", description="Payload format.")

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        super().__init__(settings)
        s = self.settings
        assert isinstance(s, SyslogSink.Settings)
        self._sender = SyslogSender(s, self.name)

    def render(self, finding: Finding) -> bytes:
        s = self.settings
        assert isinstance(s, SyslogSink.Settings)
        if s.format == "cef":
            payload = format_record(finding_to_cef(finding, product_version=__version__))
        else:
            payload = json.dumps(finding_json(finding), separators=(",", ":"), sort_keys=True)
        return format_5424(s, finding, payload)

    def _publish(
        self, findings: Sequence[Finding], context: PublishContext, report: SinkReport
    ) -> None:
        messages = [self.render(f) for f in findings]
        if context.dry_run:
            return
        self._sender.send(messages)

    def close(self) -> None:
        self._sender.close()
