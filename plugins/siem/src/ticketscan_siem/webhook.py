"""Generic webhook sink: HTTPS JSON POST signed with HMAC-SHA256.

For ingest endpoints ticketscan does not cover natively (Microsoft Sentinel / Azure Monitor
ingestion via a function or Logic App, Chronicle webhook feeds, Elastic ingest pipelines).
Each request carries ``X-Ticketscan-Signature: sha256=<hex HMAC of the exact body>``; the
receiver recomputes it with the shared key. The body holds ``sent_at`` and a ``batch_id``
(stable for the same findings) so a receiver can reject replays and drop duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from pydantic import Field, SecretStr
from ticketscan import __version__
from ticketscan.components import ComponentSettings, PublishContext, Sink
from ticketscan.errors import ConfigError
from ticketscan.models import Finding, SinkReport

from .common import finding_json, raise_for_status
from .http import make_client, post

__all__ = ["SIGNATURE_HEADER", "WebhookSink", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Ticketscan-Signature"


def sign(key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(key: bytes, body: bytes, header: str) -> bool:
    """What a receiver does: constant-time compare of the header with our own HMAC."""
    return hmac.compare_digest(sign(key, body), header or "")


class WebhookSink(Sink):
    """POSTs batches of findings as JSON to any HTTPS endpoint, HMAC-signed."""

    name = "webhook"
    description = "HTTPS JSON POST signed with HMAC-SHA256 (Sentinel, Chronicle, Elastic)"
    batch_size = 100

    class Settings(ComponentSettings):
        url: str = Field(description="Endpoint URL (https://...).")
        secret: SecretStr = Field(description="HMAC key (by reference: { env = 'WEBHOOK_KEY' }).")
        headers: dict[str, str] = Field(
            default_factory=dict, description="Extra headers (not secrets; they are logged)."
        )
        verify: bool = True
        ca_file: str | None = None
        timeout: float = Field(default=30.0, gt=0)
        allow_http: bool = Field(default=False, description="Allow plain http:// (tests only).")

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        super().__init__(settings)
        s = self._s
        if not s.url.startswith("https://") and not s.allow_http:
            raise ConfigError(
                f"webhook url must be https:// (got {httpx.URL(s.url).scheme}://)",
                section="sinks.webhook", key="url",
                hint="set allow_http = true only for a local test receiver",
            )
        self._client: httpx.Client | None = None

    @property
    def _s(self) -> WebhookSink.Settings:
        s = self.settings
        assert isinstance(s, WebhookSink.Settings)
        return s

    def body(self, findings: Sequence[Finding]) -> bytes:
        ids = sorted(f.id for f in findings)
        envelope = {
            "source": "ticketscan",
            "version": __version__,
            "batch_id": hashlib.sha256("\n".join(ids).encode()).hexdigest()[:32],
            "sent_at": datetime.now(UTC).isoformat(),
            "findings": [finding_json(f) for f in findings],
        }
        return json.dumps(envelope, separators=(",", ":")).encode()

    def _publish(
        self, findings: Sequence[Finding], context: PublishContext, report: SinkReport
    ) -> None:
        s = self._s
        body = self.body(findings)
        if context.dry_run:
            return
        headers = {
            **s.headers,
            "Content-Type": "application/json",
            "User-Agent": f"ticketscan/{__version__}",
            SIGNATURE_HEADER: sign(s.secret.get_secret_value().encode(), body),
        }
        if self._client is None:
            self._client = make_client(verify=s.verify, ca_file=s.ca_file, timeout=s.timeout)
        response = post(self._client, self.name, s.url, content=body, headers=headers)
        raise_for_status(self.name, response.status_code, response.headers,
                         response.text[:200])

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
