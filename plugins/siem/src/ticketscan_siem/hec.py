"""Splunk HTTP Event Collector sink (``/services/collector/event``), over httpx.

Batches findings into one request of concatenated JSON event objects, optionally gzipped,
authenticated with ``Authorization: Splunk <token>``. HEC answers ``{"text": ..., "code": N}``;
codes are mapped to retry (server busy, internal error, unhealthy) or fail (token, format,
index), following Splunk's "Troubleshoot HTTP Event Collector" table.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from pydantic import Field, SecretStr
from ticketscan.components import ComponentSettings, PublishContext, Sink
from ticketscan.delivery import SinkRetryError
from ticketscan.errors import SinkError
from ticketscan.models import Finding, SinkReport

from .common import finding_json, parse_retry_after
from .http import make_client, post

__all__ = ["HEC_CODES", "SplunkHecSink", "hec_event"]

#: HEC status code -> (meaning, retry?)
HEC_CODES: dict[int, tuple[str, bool]] = {
    0: ("Success", False),
    1: ("Token disabled", False),
    2: ("Token is required", False),
    3: ("Invalid authorization", False),
    4: ("Invalid token", False),
    5: ("No data", False),
    6: ("Invalid data format", False),
    7: ("Incorrect index", False),
    8: ("Internal server error", True),
    9: ("Server is busy", True),
    10: ("Data channel is missing", False),
    11: ("Invalid data channel", False),
    12: ("Event field is required", False),
    13: ("Event field cannot be blank", False),
    14: ("ACK is disabled", False),
    15: ("Error in handling indexed fields", False),
    16: ("Query string authorization is not enabled", False),
    17: ("HEC is healthy", False),
    18: ("HEC is unhealthy, queues are full", True),
    19: ("HEC is unhealthy, ack service unavailable", True),
    20: ("HEC is unhealthy, queues are full, ack service unavailable", True),
}


def hec_event(
    finding: Finding, *, index: str | None, source: str, sourcetype: str, host: str | None
) -> dict[str, object]:
    when = finding.first_seen or datetime.now(UTC)
    event: dict[str, object] = {
        "time": round(when.timestamp(), 3),
        "source": source,
        "sourcetype": sourcetype,
        "event": finding_json(finding),
        "fields": {
            "ticket": f"{finding.ticket.system}:{finding.ticket.key}",
            "severity": finding.severity.value,
            "secret_type": finding.type,
            "verified": finding.verified.value,
        },
    }
    if index:
        event["index"] = index
    if host:
        event["host"] = host
    return event


class SplunkHecSink(Sink):
    """Findings as Splunk events through the HTTP Event Collector."""

    name = "splunk-hec"
    description = "Splunk HTTP Event Collector (batched, gzip, TLS verified)"
    batch_size = 100

    class Settings(ComponentSettings):
        url: str = Field(description="HEC base URL, e.g. https://splunk.example.com:8088")
        token: SecretStr = Field(description="HEC token (by reference: { env = 'HEC_TOKEN' }).")
        index: str | None = Field(default=None, description="Index (default: the token's).")
        source: str = "ticketscan"
        sourcetype: str = "ticketscan:finding"
        host: str | None = None
        gzip: bool = Field(default=True, description="Send Content-Encoding: gzip.")
        verify: bool = Field(default=True, description="Verify the TLS certificate.")
        ca_file: str | None = Field(default=None, description="CA bundle for a private CA.")
        timeout: float = Field(default=30.0, gt=0)
        channel: str | None = Field(
            default=None, description="X-Splunk-Request-Channel (needed when indexer ack is on)."
        )

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        super().__init__(settings)
        s = self._s
        self._client: httpx.Client | None = None
        self._endpoint = s.url.rstrip("/") + "/services/collector/event"
        self._channel = s.channel or str(uuid.uuid4())

    @property
    def _s(self) -> SplunkHecSink.Settings:
        s = self.settings
        assert isinstance(s, SplunkHecSink.Settings)
        return s

    def body(self, findings: Sequence[Finding]) -> bytes:
        s = self._s
        return "\n".join(
            json.dumps(
                hec_event(f, index=s.index, source=s.source, sourcetype=s.sourcetype, host=s.host),
                separators=(",", ":"),
            )
            for f in findings
        ).encode()

    def _publish(
        self, findings: Sequence[Finding], context: PublishContext, report: SinkReport
    ) -> None:
        s = self._s
        body = self.body(findings)
        if context.dry_run:
            return
        headers = {
            "Authorization": f"Splunk {s.token.get_secret_value()}",
            "Content-Type": "application/json",
            "X-Splunk-Request-Channel": self._channel,
        }
        if s.gzip:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        if self._client is None:
            self._client = make_client(verify=s.verify, ca_file=s.ca_file, timeout=s.timeout)
        response = post(self._client, self.name, self._endpoint, content=body, headers=headers)
        self._check(response)

    def _check(self, response: httpx.Response) -> None:
        status = response.status_code
        try:
            data = response.json()
            code = int(data.get("code", -1))
            text = str(data.get("text", ""))
        except (ValueError, AttributeError, TypeError):
            code, text = -1, response.text[:200]
        if status == 200 and code in (0, -1):
            return
        meaning, retry = HEC_CODES.get(code, (text or "unknown error", False))
        detail = f"HEC code {code} ({meaning})" if code >= 0 else f"HTTP {status}: {text}"
        if status == 429 or status >= 500 or retry:
            raise SinkRetryError(
                detail, plugin=self.name,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        raise SinkError(detail, plugin=self.name)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
