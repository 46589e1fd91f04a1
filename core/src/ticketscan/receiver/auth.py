"""Webhook authentication: API keys and HMAC signatures, each check constant-time.

Every check returns ``None`` when the request is authentic, else a :class:`Refusal` with the
status code and a one-line reason that never contains a key, a secret or a signature.

* API key: a header (default ``X-Ticketscan-Key``) or, if allowed, ``?token=``; any of the
  active keys matches (rotation).
* Jira: ``X-Hub-Signature: sha256=<hex>``, HMAC-SHA256 of the raw body under the webhook secret.
* Zendesk: ``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(timestamp + body)) with the
  timestamp from ``X-Zendesk-Webhook-Signature-Timestamp`` (ISO 8601, UTC), which must lie
  within the replay window.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

__all__ = [
    "Refusal",
    "check_api_key",
    "check_jira_signature",
    "check_zendesk_signature",
    "prepare_secrets",
    "sign_jira",
    "sign_zendesk",
]


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: HTTP status, a metrics outcome label and a one-line reason."""

    status: int
    outcome: str
    reason: str


#: A signing secret: the secret itself, or a keyed HMAC-SHA256 from :func:`prepare_secrets`.
SigningSecret: TypeAlias = "str | hmac.HMAC"


def prepare_secrets(secrets: Sequence[str]) -> list[hmac.HMAC]:
    """Keyed HMAC-SHA256 objects, made once; each check copies one instead of re-keying.

    (Cheaper than ``hmac.digest`` per request, which on OpenSSL 3 re-fetches the algorithm and
    releases the GIL even for a small body.)
    """
    return [hmac.new(s.encode(), digestmod=hashlib.sha256) for s in secrets]


def _macs(secrets: Sequence[SigningSecret], data: bytes) -> list[bytes]:
    out = []
    for secret in secrets:
        mac = (hmac.new(secret.encode(), digestmod=hashlib.sha256) if isinstance(secret, str)
               else secret.copy())
        mac.update(data)
        out.append(mac.digest())
    return out


def _any_equal(given: bytes, candidates: Sequence[bytes]) -> bool:
    """Constant-time membership: compares against every candidate, never stops early."""
    found = False
    for candidate in candidates:
        found |= hmac.compare_digest(given, candidate)
    return found


def check_api_key(
    headers: Mapping[str, str],
    query: Mapping[str, str],
    keys: Sequence[str],
    *,
    header: str,
    allow_query_token: bool,
) -> Refusal | None:
    given = headers.get(header.lower())
    if given is None and allow_query_token:
        given = query.get("token")
    if not given:
        return Refusal(401, "unauthenticated", f"missing API key (header {header})")
    if not _any_equal(given.encode("utf-8", "surrogateescape"), [k.encode() for k in keys]):
        return Refusal(401, "unauthenticated", "wrong API key")
    return None


def sign_jira(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value Jira sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_jira_signature(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[SigningSecret]
) -> Refusal | None:
    value = headers.get("x-hub-signature")
    if not value:
        return Refusal(401, "unauthenticated", "missing X-Hub-Signature header")
    method, _, hexdigest = value.strip().partition("=")
    if method.lower() != "sha256" or not hexdigest:
        return Refusal(401, "unauthenticated", "X-Hub-Signature must be sha256=<hex>")
    try:
        given = bytes.fromhex(hexdigest)
    except ValueError:
        return Refusal(401, "unauthenticated", "X-Hub-Signature is not hexadecimal")
    expected = _macs(secrets, body)
    if not _any_equal(given, expected):
        return Refusal(401, "bad-signature", "signature does not match the body")
    return None


def sign_zendesk(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Zendesk-Webhook-Signature`` value Zendesk sends for ``timestamp`` + ``body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def _parse_timestamp(value: str) -> datetime | None:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def check_zendesk_signature(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[SigningSecret],
    *,
    replay_window: float,
    now: datetime | None = None,
) -> Refusal | None:
    signature = headers.get("x-zendesk-webhook-signature")
    timestamp = headers.get("x-zendesk-webhook-signature-timestamp")
    if not signature or not timestamp:
        return Refusal(
            401, "unauthenticated",
            "missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp header",
        )
    when = _parse_timestamp(timestamp)
    if when is None:
        return Refusal(401, "unauthenticated",
                       "X-Zendesk-Webhook-Signature-Timestamp is not ISO 8601")
    now = now or datetime.now(UTC)
    if abs((now - when).total_seconds()) > replay_window:
        return Refusal(
            401, "stale",
            f"signature timestamp is outside the {replay_window:g} s replay window",
        )
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return Refusal(401, "unauthenticated", "X-Zendesk-Webhook-Signature is not base64")
    expected = _macs(secrets, timestamp.encode() + body)
    if not _any_equal(given, expected):
        return Refusal(401, "bad-signature", "signature does not match the body")
    return None
