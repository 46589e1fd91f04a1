"""E-mail sink: one multipart text + HTML digest per ticket and recipient group, over SMTP.

Recipients are chosen by rules (the same fields as ``[delivery] routes``, plus ``to``): each
finding goes to every rule it matches; a ticket's digest is sent once per distinct set of
recipients. Findings no rule (and no ``default_to``) covers are reported as suppressed.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections import Counter
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

from pydantic import Field, SecretStr
from ticketscan.components import ComponentSettings, PublishContext, Sink
from ticketscan.delivery import Route, SinkRetryError
from ticketscan.errors import SinkError
from ticketscan.models import Finding, SinkReport

__all__ = ["EmailSink", "Recipients", "build_digest"]


class Recipients(Route):
    """A routing rule with the addresses its findings go to."""

    to: list[str] = Field(min_length=1)


def build_digest(findings: Sequence[Finding], *, sender: str, to: Sequence[str],
                 subject_prefix: str = "[ticketscan]") -> EmailMessage:
    ticket = findings[0].ticket
    ordered = sorted(findings, key=lambda f: (-f.severity.rank, f.type, f.location.path))
    counts = Counter(f.type for f in findings)
    worst = ordered[0].severity.value.upper()
    msg = EmailMessage()
    msg["Subject"] = (f"{subject_prefix} {worst}: {len(findings)} secret(s) in "
                      f"{ticket.system} ticket {ticket.key}")
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="ticketscan.invalid")
    msg["X-Ticketscan-Ticket"] = f"{ticket.system}:{ticket.key}"
    lines = [
        f"ticketscan found {len(findings)} secret(s) in {ticket.system} ticket {ticket.key}.",
        f"Ticket: {ticket.url}" if ticket.url else "",
        "",
        "By type:",
        *(f"  {n} x {t}" for t, n in counts.most_common()),
        "",
        "Findings (secrets are redacted):",
    ]
    for f in ordered:
        lines.append(
            f"  - [{f.severity.value}] {f.type} {f.redacted} at {f.location.path} line "
            f"{f.location.line}; verified: {f.verified.value}; engines: {', '.join(f.scanners)}"
        )
    lines += ["", "Rotate the credential(s) and remove them from the ticket.", ""]
    msg.set_content("\n".join(line for line in lines if line is not None))
    e = html.escape
    link = (f'<a href="{e(ticket.url)}">{e(ticket.key)}</a>' if ticket.url else e(ticket.key))
    rows = "".join(
        f"<tr><td>{e(f.severity.value)}</td><td>{e(f.type)}</td><td><code>{e(f.redacted)}</code>"
        f"</td><td>{e(f.location.path)}:{f.location.line}</td><td>{e(f.verified.value)}</td>"
        f"<td>{e(', '.join(f.scanners))}</td></tr>"
        for f in ordered
    )
    by_type = "".join(f"<li>{n} &times; {e(t)}</li>" for t, n in counts.most_common())
    msg.add_alternative(
        "<!doctype html><html><body>"
        f"<h2>{len(findings)} secret(s) in {e(ticket.system)} ticket {link}</h2>"
        f"<ul>{by_type}</ul>"
        "<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\"><tr><th>severity</th>"
        "<th>type</th><th>secret (redacted)</th><th>where</th><th>verified</th><th>engines</th>"
        f"</tr>{rows}</table><p>Rotate the credential(s) and remove them from the ticket.</p>"
        "</body></html>",
        subtype="html",
    )
    return msg


class EmailSink(Sink):
    """SMTP with STARTTLS or implicit TLS and AUTH; a digest per ticket."""

    name = "email"
    description = "e-mail digest per ticket over SMTP (STARTTLS/TLS, AUTH)"
    batch_by_ticket = True

    class Settings(ComponentSettings):
        host: str = "localhost"
        port: int | None = Field(default=None, description="587 starttls, 465 tls, 25 none.")
        security: Literal["starttls", "tls", "none"] = "starttls"
        username: str | None = None
        password: SecretStr | None = Field(default=None, description="By reference.")
        sender: str = Field(default="ticketscan@localhost", description="From address.")
        recipients: list[Recipients] = Field(default_factory=list, description="Routing rules.")
        default_to: list[str] = Field(
            default_factory=list, description="For findings no recipients rule matches."
        )
        subject_prefix: str = "[ticketscan]"
        ca_file: str | None = None
        verify: bool = True
        timeout: float = Field(default=30.0, gt=0)

    @property
    def _s(self) -> EmailSink.Settings:
        s = self.settings
        assert isinstance(s, EmailSink.Settings)
        return s

    def route(self, findings: Sequence[Finding]) -> dict[tuple[str, ...], list[Finding]]:
        """Recipient set -> the findings it gets."""
        groups: dict[tuple[str, ...], list[Finding]] = {}
        for f in findings:
            to = sorted({a for rule in self._s.recipients if rule.matches(f) for a in rule.to})
            if not to:
                to = sorted(set(self._s.default_to))
            if to:
                groups.setdefault(tuple(to), []).append(f)
        return groups

    def _connect(self) -> smtplib.SMTP:
        s = self._s
        ctx = ssl.create_default_context(cafile=s.ca_file)
        if not s.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        port = s.port or {"starttls": 587, "tls": 465, "none": 25}[s.security]
        smtp: smtplib.SMTP
        if s.security == "tls":
            smtp = smtplib.SMTP_SSL(s.host, port, timeout=s.timeout, context=ctx)
        else:
            smtp = smtplib.SMTP(s.host, port, timeout=s.timeout)
        try:
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=ctx)
                smtp.ehlo()
            if s.username:
                password = s.password.get_secret_value() if s.password else ""
                smtp.login(s.username, password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _publish(
        self, findings: Sequence[Finding], context: PublishContext, report: SinkReport
    ) -> None:
        s = self._s
        groups = self.route(findings)
        covered = {f.id for group in groups.values() for f in group}
        report.suppressed.extend(f.id for f in findings if f.id not in covered)
        messages = [
            build_digest(group, sender=s.sender, to=to, subject_prefix=s.subject_prefix)
            for to, group in groups.items()
        ]
        if context.dry_run or not messages:
            return
        try:
            smtp = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            raise SinkError(f"SMTP login refused ({exc.smtp_code})", plugin=self.name,
                            hint="check username/password") from None
        except ssl.SSLCertVerificationError as exc:
            raise SinkError(f"TLS certificate of {s.host} not trusted: {exc.verify_message}",
                            plugin=self.name, hint="set ca_file") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SinkError(f"{s.host} lacks a needed SMTP extension: {exc}",
                            plugin=self.name) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise SinkRetryError(f"SMTP {s.host} unavailable: {exc}", plugin=self.name) from exc
        try:
            for message in messages:
                try:
                    smtp.send_message(message)
                except smtplib.SMTPRecipientsRefused as exc:
                    raise SinkError(f"recipients refused: {sorted(exc.recipients)}",
                                    plugin=self.name) from None
                except smtplib.SMTPResponseException as exc:
                    if 400 <= exc.smtp_code < 500:
                        raise SinkRetryError(f"SMTP {exc.smtp_code}", plugin=self.name) from None
                    raise SinkError(f"SMTP {exc.smtp_code}", plugin=self.name) from None
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
