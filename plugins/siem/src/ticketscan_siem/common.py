"""Helpers shared by the SIEM sinks: a finding as plain JSON, titles, HTTP status handling."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from ticketscan.delivery import SinkRetryError
from ticketscan.errors import SinkError
from ticketscan.models import Finding
from ticketscan.taxonomy import CANONICAL_TYPES

__all__ = ["finding_json", "parse_retry_after", "raise_for_status", "ssl_context", "title_of"]

#: HTTP statuses worth retrying (RFC 9110: timeout, too early, too many requests, 5xx).
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def title_of(finding: Finding) -> str:
    info = CANONICAL_TYPES.get(finding.type)
    return info.title if info is not None else finding.type


def finding_json(finding: Finding) -> dict[str, Any]:
    """The finding as JSON (it holds no secret: only ``secret_sha256`` and ``redacted``)."""
    return finding.model_dump(mode="json", exclude_none=True)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from datetime import UTC, datetime
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


def raise_for_status(
    sink: str, status: int, headers: Mapping[str, str], detail: str = ""
) -> None:
    """2xx returns; 408/425/429/5xx raise SinkRetryError (Retry-After honoured); else SinkError."""
    if 200 <= status < 300:
        return
    text = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status in RETRY_STATUSES or status >= 500:
        raise SinkRetryError(
            text, plugin=sink, retry_after=parse_retry_after(headers.get("retry-after"))
        )
    raise SinkError(text, plugin=sink)


def ssl_context(
    *, verify: bool, ca_file: str | None, cert_file: str | None = None,
    key_file: str | None = None,
) -> ssl.SSLContext:
    """A client TLS context: verification on unless ``verify`` is False."""
    ctx = ssl.create_default_context(cafile=ca_file)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert_file:
        ctx.load_cert_chain(cert_file, key_file)
    return ctx
