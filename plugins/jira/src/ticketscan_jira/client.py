"""A thin, error-mapping layer over atlassian-python-api's ``Jira`` client.

Every request goes through the real client (its session, auth and URL building); this module
adds what ticketscan needs around it:

* bounded retries for 429 and 5xx (honouring ``Retry-After``) and for timeouts and connection
  errors, with exponential backoff, then a retryable :class:`SourceError` (exit 3);
* 401/403 → a :class:`SourceError` naming the credential and the permission needed;
* 404 → :class:`NotFound` (the caller records the part as skipped);
* attachments streamed to disk in chunks with a byte limit.

Messages never include response bodies or headers (which could echo a credential).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import requests
from ticketscan.errors import SourceError

if TYPE_CHECKING:
    from atlassian import Jira

    from .source import JiraConnection

__all__ = ["JiraClient", "NotFound", "TooLarge", "make_client"]

log = logging.getLogger("ticketscan.jira")
T = TypeVar("T")
CHUNK = 256 * 1024
RETRYABLE = {429, 500, 502, 503, 504}


class NotFound(Exception):
    """The ticket, comment or attachment does not exist (any more)."""


class TooLarge(Exception):
    """A download went over the configured size limit."""


def flavor_of(settings: JiraConnection) -> str:
    if settings.flavor != "auto":
        return settings.flavor
    host = (urlsplit(settings.url or "").hostname or "").lower()
    return "cloud" if host.endswith((".atlassian.net", ".jira.com", ".jira-dev.com")) else "server"


def make_client(settings: JiraConnection) -> Jira:
    """The real atlassian-python-api client for these settings (no request is sent yet)."""
    from atlassian import Jira

    # atlassian-python-api logs every response body ("HTTP: Response text -> ...") and every
    # request body (a curl line) at DEBUG: that is ticket text, secrets included. Never let
    # those records through, even under --debug.
    quiet_client_logs()

    if not settings.url:
        raise SourceError("no Jira URL configured (sources.jira.url)", plugin="jira")
    cloud = flavor_of(settings) == "cloud"
    token = settings.token.get_secret_value() if settings.token is not None else None
    kwargs: dict[str, Any] = {
        "url": settings.url.rstrip("/"),
        "cloud": cloud,
        "api_version": "3" if cloud else "2",
        "timeout": settings.timeout,
        # retries are ours (bounded); the client's own Retry-After loop is unbounded
        "backoff_and_retry": False,
        "retry_with_header": False,
    }
    if settings.email and token:
        kwargs.update(username=settings.email, password=token)
    elif token:
        if cloud:
            raise SourceError(
                "Jira Cloud needs sources.jira.email together with the API token",
                plugin="jira",
                hint="set email to the Atlassian account the API token belongs to",
            )
        kwargs["token"] = token
    return Jira(**kwargs)


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port) and (
        a.path.startswith(b.path.rstrip("/") + "/")
    )


class _NoBodies(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def quiet_client_logs() -> None:
    """Drop atlassian-python-api's DEBUG records (they carry request and response bodies)."""
    client_log = logging.getLogger("atlassian.rest_client")
    if not any(isinstance(f, _NoBodies) for f in client_log.filters):
        client_log.addFilter(_NoBodies())
    if client_log.level == logging.NOTSET or client_log.level < logging.INFO:
        client_log.setLevel(logging.INFO)


class JiraClient:
    """Requests ticketscan makes, with retries and error mapping."""

    def __init__(self, settings: JiraConnection, *, sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.jira = make_client(settings)
        self.cloud = flavor_of(settings) == "cloud"
        self.api = "3" if self.cloud else "2"
        self._sleep = sleep

    # ------------------------------------------------------------------------- plumbing

    def _credential(self) -> str:
        if self.cloud:
            return "the Jira Cloud API token (sources.jira.email + sources.jira.token)"
        if self.settings.email:
            return "the Jira username and password/token (sources.jira.email + sources.jira.token)"
        return "the Jira personal access token (sources.jira.token)"

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one request with bounded retries; map failures to ticketscan errors."""
        settings = self.settings
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except requests.HTTPError as exc:
                response = exc.response
                status = response.status_code if response is not None else 0
                if status == 404:
                    raise NotFound(what) from None
                if status in (401, 403):
                    raise self._denied(status, what) from None
                if status not in RETRYABLE:
                    raise SourceError(
                        f"Jira answered HTTP {status} to {what}", plugin="jira"
                    ) from None
                if attempt > settings.retries:
                    raise SourceError(
                        f"Jira answered HTTP {status} to {what} after {attempt} attempts; "
                        "the event can be retried later",
                        plugin="jira",
                    ) from None
                delay = self._delay(attempt, response)
                log.warning("Jira HTTP %s on %s; retry %d in %.1f s", status, what, attempt, delay)
            except (requests.Timeout, requests.ConnectionError) as exc:
                kind = "timed out" if isinstance(exc, requests.Timeout) else "could not connect"
                if attempt > settings.retries:
                    raise SourceError(
                        f"{what} {kind} after {attempt} attempts "
                        f"(timeout {settings.timeout:g} s); the event can be retried later",
                        plugin="jira",
                    ) from None
                delay = self._delay(attempt, None)
                log.warning("Jira %s on %s; retry %d in %.1f s", kind, what, attempt, delay)
            self._sleep(delay)

    def _delay(self, attempt: int, response: requests.Response | None) -> float:
        settings = self.settings
        backoff = float(min(settings.max_backoff, settings.backoff * 2.0 ** (attempt - 1)))
        if response is not None:
            raw = response.headers.get("Retry-After", "")
            try:
                return float(min(settings.max_backoff, max(0.0, float(raw))))
            except ValueError:
                pass
        return backoff

    def _denied(self, status: int, what: str) -> SourceError:
        if status == 401:
            return SourceError(
                f"Jira rejected {self._credential()} (HTTP 401) on {what}",
                plugin="jira",
                hint="check that the token is valid, not expired or revoked"
                + (", and that email is the token owner's" if self.cloud else ""),
            )
        return SourceError(
            f"Jira refused {what} (HTTP 403): the account behind {self._credential()} "
            "lacks a permission",
            plugin="jira",
            hint="grant it 'Browse projects' on the project (and 'View issue' security level "
            "if issue security is used); attachments also need the project to allow them",
        )

    def _url(self, resource: str) -> str:
        return self.jira.resource_url(resource)

    # ------------------------------------------------------------------------- requests

    def issue(self, key: str, fields: list[str], expand: str | None = None) -> dict[str, Any]:
        result = self.call(
            f"GET issue {key}",
            lambda: self.jira.get_issue(key, fields=fields, update_history=False, expand=expand),
        )
        if not isinstance(result, dict):
            raise SourceError(f"Jira returned no JSON object for issue {key}", plugin="jira")
        return result

    def comment(self, key: str, comment_id: str) -> dict[str, Any]:
        result = self.call(
            f"GET comment {comment_id} of {key}",
            lambda: self.jira.issue_get_comment(key, comment_id),
        )
        if not isinstance(result, dict):
            raise SourceError(f"Jira returned no JSON object for comment {comment_id}",
                              plugin="jira")
        return result

    def comments(self, key: str) -> Iterator[dict[str, Any]]:
        """Every comment of ``key``, oldest first, following startAt/maxResults/total."""
        url = f"{self._url('issue')}/{key}/comment"
        start = 0
        for _page in range(100_000):
            params = {"startAt": start, "maxResults": self.settings.page_size, "orderBy": "created"}
            page = self.call(
                f"GET comments of {key} from {start}",
                lambda params=params: self.jira.get(url, params=params),  # type: ignore[misc]
            )
            if not isinstance(page, dict):
                raise SourceError(f"Jira returned no comment page for {key}", plugin="jira")
            comments = page.get("comments")
            if not isinstance(comments, list):
                raise SourceError(f"Jira returned no comment list for {key}", plugin="jira")
            yield from (c for c in comments if isinstance(c, dict))
            start += len(comments)
            total = page.get("total")
            if not comments or (isinstance(total, int) and start >= total):
                return

    def attachment(self, attachment_id: str) -> dict[str, Any]:
        result = self.call(
            f"GET attachment {attachment_id}", lambda: self.jira.get_attachment(attachment_id)
        )
        if not isinstance(result, dict):
            raise SourceError(f"Jira returned no JSON object for attachment {attachment_id}",
                              plugin="jira")
        return result

    def changelog(self, key: str) -> Iterator[dict[str, Any]]:
        """Every changelog entry (``histories``) of ``key``."""
        if not self.cloud:
            issue = self.issue(key, ["summary"], expand="changelog")
            changelog = issue.get("changelog") or {}
            histories = changelog.get("histories") if isinstance(changelog, dict) else None
            yield from (h for h in histories or [] if isinstance(h, dict))
            return
        url = f"{self._url('issue')}/{key}/changelog"
        start = 0
        for _page in range(100_000):
            params = {"startAt": start, "maxResults": self.settings.page_size}
            page = self.call(
                f"GET changelog of {key} from {start}",
                lambda params=params: self.jira.get(url, params=params),  # type: ignore[misc]
            )
            if not isinstance(page, dict):
                raise SourceError(f"Jira returned no changelog page for {key}", plugin="jira")
            values = page.get("values")
            if not isinstance(values, list):
                raise SourceError(f"Jira returned no changelog page for {key}", plugin="jira")
            yield from (v for v in values if isinstance(v, dict))
            start += len(values)
            total = page.get("total")
            if not values or page.get("isLast") or (isinstance(total, int) and start >= total):
                return

    def download(self, attachment_id: str, dest: Path, limit: int,
                 content_url: str | None = None) -> int:
        """Stream the attachment's bytes to ``dest``; raise TooLarge past ``limit`` bytes.

        ``content_url`` (from the attachment's metadata) is used only when it is on the
        configured Jira's scheme, host and port; otherwise the REST content URL is built from
        the configured base URL, so the credential is only ever sent to the configured Jira.
        Redirects (Jira Cloud answers with one to its media service) are followed by
        requests, which drops the Authorization header when the host changes.
        """
        url = f"{self.jira.url}/{self._url('attachment')}/content/{attachment_id}"
        if content_url and _same_origin(content_url, self.jira.url):
            url = content_url
        session = self.jira.session

        def fetch() -> int:
            with session.get(url, stream=True, timeout=self.settings.timeout,
                             allow_redirects=True) as response:
                response.raise_for_status()
                written = 0
                with dest.open("wb") as handle:
                    for chunk in response.iter_content(CHUNK):
                        written += len(chunk)
                        if written > limit:
                            raise TooLarge(attachment_id)
                        handle.write(chunk)
                return written

        return self.call(f"download attachment {attachment_id}", fetch)

    # ------------------------------------------------------------------------- writes

    def put_json(self, what: str, path: str, data: dict[str, Any],
                 params: dict[str, str] | None = None) -> Any:
        return self.call(what, lambda: self.jira.put(path, data=data, params=params))

    def post_json(self, what: str, path: str, data: dict[str, Any]) -> Any:
        return self.call(what, lambda: self.jira.post(path, data=data))

    def delete(self, what: str, path: str) -> Any:
        return self.call(what, lambda: self.jira.delete(path))

    def close(self) -> None:
        self.jira.close()
