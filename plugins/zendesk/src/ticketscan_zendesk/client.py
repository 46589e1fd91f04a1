"""A zenpy client with bounded retries, and Zendesk errors turned into ticketscan errors.

zenpy itself waits out ``429 Retry-After`` forever (it sleeps one second at a time and tries
again) and does not retry 5xx or timeouts. ticketscan instead mounts :class:`RetryingAdapter` on
the requests session it hands to zenpy: every request — zenpy's API calls, zenpy's cursor
pagination and our attachment downloads — is retried on 429/5xx/timeouts with ``Retry-After``
honoured (up to ``max_retry_after`` seconds) or bounded exponential backoff. When the retries are
spent the adapter hides ``Retry-After`` from zenpy (so it does not start its own endless wait) and
the failure surfaces as a retryable :class:`~ticketscan.errors.SourceError` (exit 3).

Pointing zenpy at another host (a local fake, a proxy): zenpy has no base-URL argument, but it
reads ``ZENPY_FORCE_NETLOC`` and ``ZENPY_FORCE_SCHEME`` from the environment on every request.
:func:`make_client` sets them from the ``url`` setting when that URL is not a
``<subdomain>.zendesk.com`` address. They are process-wide: one process talks to one Zendesk.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from ticketscan.errors import ConfigError, SourceError

__all__ = [
    "NotFound",
    "RetryingAdapter",
    "ZendeskSite",
    "make_client",
    "translate_errors",
]

log = logging.getLogger("ticketscan.zendesk")

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
ZENDESK_DOMAIN = "zendesk.com"
HIDDEN_RETRY_AFTER = "X-Ticketscan-Retry-After"


class NotFound(Exception):
    """A ticket, comment or attachment is gone (404): record as skipped, not an error."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RetryingAdapter(HTTPAdapter):
    """Retries 429/5xx (and timeouts/connection errors of idempotent requests), bounded.

    * ``Retry-After`` is honoured when present, unless it asks for more than
      ``max_retry_after`` seconds (then we give up at once: exit 3 lets the queue retry later).
    * Otherwise the wait is ``backoff_base * 2**attempt`` with jitter, capped at ``backoff_max``.
    * POST, and requests ``no_retry`` picks, are retried only on 429 (Zendesk did not process
      it); never on 5xx or timeouts, so an internal note is never added twice.
    """

    def __init__(
        self,
        *,
        retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.retried = 0
        #: Requests that must not be resent even though their method is idempotent (adding a
        #: comment is a ``PUT /api/v2/tickets/{id}``): retried only on 429, like POST.
        self.no_retry: Callable[[requests.PreparedRequest], bool] | None = None

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * float(2**attempt))
        return delay * (0.5 + random.random() / 2)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        method = (request.method or "GET").upper()
        once = self.no_retry is not None and self.no_retry(request)
        idempotent = method in IDEMPOTENT and not once
        attempt = 0
        while True:
            try:
                response = super().send(request, **kwargs)
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError):
                if not idempotent or attempt >= self.retries:
                    raise
                delay = self._backoff(attempt)
                log.warning(
                    "zendesk %s %s: timeout/connection error, retry %d/%d in %.1fs",
                    method,
                    _safe_url(request.url),
                    attempt + 1,
                    self.retries,
                    delay,
                )
            else:
                status = response.status_code
                if status not in RETRY_STATUS:
                    return response
                retryable = idempotent or status == 429
                wait = parse_retry_after(response.headers.get("Retry-After"))
                if (
                    not retryable
                    or attempt >= self.retries
                    or (wait is not None and wait > self.max_retry_after)
                ):
                    _hide_retry_after(response)
                    return response
                delay = wait if wait is not None else self._backoff(attempt)
                log.warning(
                    "zendesk %s %s: HTTP %d, retry %d/%d in %.1fs",
                    method,
                    _safe_url(request.url),
                    status,
                    attempt + 1,
                    self.retries,
                    delay,
                )
                response.close()
            self.retried += 1
            self.sleep(delay)
            attempt += 1


def _hide_retry_after(response: requests.Response) -> None:
    value = response.headers.pop("Retry-After", None)
    if value is not None:
        response.headers[HIDDEN_RETRY_AFTER] = value


def _safe_url(url: str | None) -> str:
    """A URL for logs: no query string (attachment tokens live in paths, cut them too)."""
    if not url:
        return ""
    parts = urlsplit(url)
    path = parts.path
    if "/attachments/token/" in path:
        path = path.split("/attachments/token/")[0] + "/attachments/token/…"
    return f"{parts.scheme}://{parts.netloc}{path}"


@dataclass(frozen=True)
class ZendeskSite:
    """Where the Zendesk API is: ``https://acme.zendesk.com`` or a forced host (fakes)."""

    scheme: str
    netloc: str
    subdomain: str
    forced: bool

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    @classmethod
    def from_settings(cls, subdomain: str | None, url: str | None) -> ZendeskSite:
        if url:
            parts = urlsplit(url if "://" in url else f"https://{url}")
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(
                    f"not an http(s) URL: {url!r}", section="sources.zendesk", key="url"
                )
            host = parts.hostname.lower()
            if host.endswith("." + ZENDESK_DOMAIN) and parts.scheme == "https" and not parts.port:
                return cls("https", host, host[: -len(ZENDESK_DOMAIN) - 1], forced=False)
            return cls(parts.scheme, parts.netloc, subdomain or "ticketscan", forced=True)
        if subdomain:
            sub = subdomain.strip().lower()
            if not sub or "." in sub or "/" in sub:
                raise ConfigError(
                    "must be the subdomain only (e.g. 'acme' for acme.zendesk.com), "
                    f"got {subdomain!r}",
                    section="sources.zendesk",
                    key="subdomain",
                )
            return cls("https", f"{sub}.{ZENDESK_DOMAIN}", sub, forced=False)
        raise ConfigError(
            "set subdomain (e.g. 'acme') or url (e.g. 'https://acme.zendesk.com')",
            section="sources.zendesk",
        )

    def owns(self, url: str) -> bool:
        """True if ``url`` may receive our credentials: the API host or a Zendesk host."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.netloc.lower() == self.netloc.lower():
            return True
        return parts.scheme == "https" and (
            host.endswith("." + ZENDESK_DOMAIN) or host.endswith(".zdusercontent.com")
        )


def _force_env(site: ZendeskSite) -> None:
    for name, value in (("ZENPY_FORCE_NETLOC", site.netloc), ("ZENPY_FORCE_SCHEME", site.scheme)):
        current = os.environ.get(name)
        if current and current != value:
            raise ConfigError(
                f"{name} is already set to {current!r} in this process, "
                f"but sources.zendesk.url asks for {value!r}",
                section="sources.zendesk",
                key="url",
            )
        os.environ[name] = value


def make_client(
    site: ZendeskSite,
    *,
    email: str | None,
    token: str | None,
    oauth_token: str | None,
    timeout: float,
    connect_timeout: float,
    retries: int,
    backoff_base: float,
    backoff_max: float,
    max_retry_after: float,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Any, requests.Session, RetryingAdapter]:
    """A real ``zenpy.Zenpy`` on a session with :class:`RetryingAdapter` mounted."""
    try:
        from zenpy import Zenpy
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise SourceError(
            f"zenpy is not installed ({exc})",
            plugin="zendesk",
            hint="pip install ticketscan-zendesk",
        ) from None
    if oauth_token:
        creds: dict[str, str] = {"oauth_token": oauth_token}
    elif email and token:
        creds = {"email": email, "token": token}
    else:
        raise ConfigError(
            "no credentials: set email and token (API token), or oauth_token",
            section="sources.zendesk",
            key="token" if email else "email",
            hint='token = { env = "ZENDESK_API_TOKEN" }',
        )
    if site.forced:
        _force_env(site)
    adapter = RetryingAdapter(
        retries=retries,
        backoff_base=backoff_base,
        backoff_max=backoff_max,
        max_retry_after=max_retry_after,
        sleep=sleep,
    )
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "ticketscan-zendesk (zenpy)"
    client = Zenpy(
        subdomain=site.subdomain,
        session=session,
        timeout=(connect_timeout, timeout),
        disable_cache=True,
        # after our adapter gave up, never let zenpy sleep on a 429 by itself
        ratelimit_budget=1,
        **creds,
    )
    return client, session, adapter


def describe_credential(email: str | None, oauth: bool) -> str:
    if oauth:
        return "the OAuth token (sources.zendesk.oauth_token)"
    return f"the API token of {email or '?'} (sources.zendesk.email / sources.zendesk.token)"


@contextmanager
def translate_errors(what: str, *, credential: str, permission: str) -> Iterator[None]:
    """Turn zenpy/requests failures while doing ``what`` into ticketscan errors.

    401/403 → SourceError naming the credential and the permission needed; 404 → NotFound;
    429/5xx after retries, timeouts, connection errors → retryable SourceError. Messages carry
    the status and Zendesk's error code only, never a response body.
    """
    from zenpy.lib.exception import APIException, ZenpyException

    try:
        yield
    except NotFound:
        raise
    except (APIException, requests.exceptions.HTTPError) as exc:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        raise _status_error(what, status, response, credential, permission) from None
    except requests.exceptions.Timeout:
        raise SourceError(
            f"{what}: Zendesk did not answer in time (timed out after retries)",
            plugin="zendesk",
            hint="raise sources.zendesk.timeout or retry later",
        ) from None
    except requests.exceptions.ConnectionError as exc:
        raise SourceError(
            f"{what}: cannot connect to Zendesk ({type(exc).__name__})", plugin="zendesk"
        ) from None
    except ZenpyException as exc:
        raise SourceError(f"{what}: {type(exc).__name__}", plugin="zendesk") from None


def _error_code(response: Any) -> str:
    try:
        body = response.json()
    except (ValueError, AttributeError):
        return ""
    code = body.get("error") if isinstance(body, dict) else None
    if isinstance(code, dict):
        code = code.get("title") or code.get("message")
    return f" ({str(code)[:60]})" if isinstance(code, str) and code else ""


def _status_error(
    what: str, status: int | None, response: Any, credential: str, permission: str
) -> Exception:
    code = _error_code(response) if response is not None else ""
    if status == 404:
        return NotFound(f"{what}: not found (404){code}")
    if status == 401:
        return SourceError(
            f"{what}: Zendesk rejected {credential} (401 Unauthorized){code}",
            plugin="zendesk",
            hint="check the email and API token (Admin Center → Apps and integrations → "
            "Zendesk API → token access enabled), or that the OAuth token is not revoked",
        )
    if status == 403:
        return SourceError(
            f"{what}: {credential} is not allowed (403 Forbidden){code}; {permission}",
            plugin="zendesk",
        )
    if status in RETRY_STATUS:
        wait = response.headers.get(HIDDEN_RETRY_AFTER) if response is not None else None
        extra = f", Retry-After {wait}s" if wait else ""
        return SourceError(
            f"{what}: Zendesk answered HTTP {status}{code}{extra} after retries",
            plugin="zendesk",
            hint="the event stays queued and is retried later",
        )
    return SourceError(f"{what}: Zendesk answered HTTP {status}{code}", plugin="zendesk")
