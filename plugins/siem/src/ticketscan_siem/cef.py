"""ArcSight Common Event Format (CEF) 0: escaping, formatting a finding, and parsing.

Header fields escape ``\\`` and ``|``; extension values escape ``\\`` and ``=``; both encode
line breaks as ``\\n`` / ``\\r`` so a record stays on one line. :func:`parse` is the exact
inverse of :func:`format_record` (a hypothesis test checks it on arbitrary strings).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ticketscan.models import Finding, Severity

from .common import title_of

__all__ = [
    "CefRecord",
    "escape_extension",
    "escape_header",
    "finding_to_cef",
    "format_record",
    "parse",
    "unescape",
]

SEVERITY = {Severity.LOW: 3, Severity.MEDIUM: 5, Severity.HIGH: 8, Severity.CRITICAL: 10}
_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def escape_header(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "\\n").replace("\r", "\\r")
    )


def escape_extension(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n").replace("\r", "\\r")
    )


_UNESCAPE = {"n": "\n", "r": "\r"}


def unescape(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append(_UNESCAPE.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass
class CefRecord:
    vendor: str
    product: str
    version: str
    signature_id: str
    name: str
    severity: str
    extension: list[tuple[str, str]] = field(default_factory=list)

    def ext(self) -> dict[str, str]:
        return dict(self.extension)


def format_record(record: CefRecord) -> str:
    header = [
        record.vendor, record.product, record.version, record.signature_id, record.name,
        record.severity,
    ]
    parts = []
    for key, value in record.extension:
        if not _KEY.match(key):
            raise ValueError(f"invalid CEF extension key {key!r}")
        parts.append(f"{key}={escape_extension(value)}")
    return "CEF:0|" + "|".join(escape_header(h) for h in header) + "|" + " ".join(parts)


def _split_header(text: str) -> tuple[list[str], str]:
    fields: list[str] = []
    start = 0
    i = 0
    while i < len(text) and len(fields) < 7:
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "|":
            fields.append(text[start:i])
            start = i + 1
        i += 1
    if len(fields) < 7:
        raise ValueError("not a CEF record: fewer than 8 pipe-separated fields")
    return fields, text[start:]


def _parse_extension(text: str) -> list[tuple[str, str]]:
    equals: list[int] = []
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "=":
            equals.append(i)
        i += 1
    if not equals:
        if text.strip():
            raise ValueError("CEF extension without key=value pairs")
        return []
    starts = [0]
    for prev, eq in itertools.pairwise(equals):
        space = text.rfind(" ", prev + 1, eq)
        if space < 0:
            raise ValueError("CEF extension: two '=' without a key between them")
        starts.append(space + 1)
    out: list[tuple[str, str]] = []
    for n, eq in enumerate(equals):
        key = text[starts[n] : eq]
        end = starts[n + 1] - 1 if n + 1 < len(equals) else len(text)
        if not _KEY.match(key):
            raise ValueError(f"invalid CEF extension key {key!r}")
        out.append((key, unescape(text[eq + 1 : end])))
    return out


def parse(text: str) -> CefRecord:
    """Parse one CEF record (``CEF:0|...``); raises ValueError when it is not one."""
    at = text.find("CEF:")
    if at < 0:
        raise ValueError("not a CEF record: no 'CEF:' prefix")
    fields, ext = _split_header(text[at:])
    if fields[0] != "CEF:0":
        raise ValueError(f"unsupported CEF version {fields[0]!r}")
    vendor, product, version, sig, name, sev = (unescape(f) for f in fields[1:7])
    return CefRecord(vendor, product, version, sig, name, sev, _parse_extension(ext))


def finding_to_cef(
    finding: Finding, *, product_version: str, vendor: str = "ticketscan",
    product: str = "ticketscan",
) -> CefRecord:
    """The CEF record of a finding. Custom strings carry their labels (``csNLabel``)."""
    when = finding.first_seen or datetime.now(UTC)
    loc = finding.location
    ext: list[tuple[str, str]] = [
        ("rt", str(int(when.timestamp() * 1000))),
        ("externalId", finding.id),
        ("cat", finding.type),
        (
            "msg",
            f"{title_of(finding)} {finding.redacted} in {finding.ticket.system} ticket "
            f"{finding.ticket.key} ({loc.path}, line {loc.line})",
        ),
    ]
    if finding.ticket.url:
        ext.append(("request", finding.ticket.url))
    ext += [
        ("fname", loc.path),
        ("cs1Label", "ticket"), ("cs1", f"{finding.ticket.system}:{finding.ticket.key}"),
        ("cs2Label", "secretSha256"), ("cs2", finding.secret_sha256),
        ("cs3Label", "fingerprint"), ("cs3", finding.fingerprint),
        ("cs4Label", "verified"), ("cs4", finding.verified.value),
        ("cs5Label", "scanners"), ("cs5", ",".join(finding.scanners)),
        ("cs6Label", "redacted"), ("cs6", finding.redacted),
        ("cn1Label", "line"), ("cn1", str(loc.line)),
        ("cfp1Label", "confidence"), ("cfp1", f"{finding.confidence:.2f}"),
    ]
    if finding.ticket.project:
        ext += [("flexString1Label", "project"), ("flexString1", finding.ticket.project)]
    return CefRecord(
        vendor=vendor,
        product=product,
        version=product_version,
        signature_id=finding.type,
        name=f"{title_of(finding)} in ticket",
        severity=str(SEVERITY[finding.severity]),
        extension=ext,
    )


def format_findings(findings: Sequence[Finding], product_version: str) -> list[str]:
    return [format_record(finding_to_cef(f, product_version=product_version)) for f in findings]
