"""The ``jira`` source: Jira webhook events → Documents (fields, comments, attachments, history).

Events understood (``webhookEvent``):

============================  ==================================================================
``jira:issue_created``        the whole ticket
``jira:issue_updated``        the fields its changelog names, a new attachment, the comment of
                              ``issue_commented`` / ``issue_comment_edited`` (Jira Server)
``comment_created/updated``   that comment
``attachment_created``        that attachment (the payload must name the issue)
``*_deleted``                 nothing to scan: recorded as skipped
============================  ==================================================================

With ``incremental = false`` every event scans the whole ticket.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr
from ticketscan.components import ComponentSettings, Source
from ticketscan.documents import DocumentWriter
from ticketscan.errors import EventError
from ticketscan.models import Part, TicketEvent, TicketRef

from .client import JiraClient, NotFound, TooLarge, flavor_of
from .text import adf_to_text, wiki_to_text

__all__ = ["SUPPORTED_EVENTS", "JiraConnection", "JiraSettings", "JiraSource"]

log = logging.getLogger("ticketscan.jira")

BASE_FIELDS = ("summary", "description", "environment")
SCAN_EVENTS = (
    "jira:issue_created",
    "jira:issue_updated",
    "comment_created",
    "comment_updated",
    "attachment_created",
)
DELETE_EVENTS = ("jira:issue_deleted", "comment_deleted", "attachment_deleted")
SUPPORTED_EVENTS = SCAN_EVENTS + DELETE_EVENTS
_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")
_ID = re.compile(r"^[0-9]{1,19}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ +-]+")


class JiraConnection(ComponentSettings):
    """How to reach Jira: shared by the ``jira`` source and the ``jira-remediate`` sink."""

    url: str | None = Field(default=None, description="Base URL, e.g. https://acme.atlassian.net")
    flavor: Literal["auto", "cloud", "server"] = Field(
        default="auto",
        description="cloud: email + API token, REST v3 (ADF); server: Data Center/Server, "
        "personal access token, REST v2 (wiki markup); auto: cloud for *.atlassian.net.",
    )
    email: str | None = Field(default=None, description="Cloud: the API token's account e-mail.")
    token: SecretStr | None = Field(
        default=None, description="API token (Cloud) or personal access token (Data Center)."
    )
    page_size: int = Field(default=100, ge=1, le=1000)
    timeout: float = Field(default=30.0, gt=0, description="Seconds per HTTP request.")
    retries: int = Field(default=4, ge=0, description="Retries on 429/5xx/timeouts.")
    backoff: float = Field(default=1.0, ge=0, description="First backoff in seconds (doubles).")
    max_backoff: float = Field(default=30.0, ge=0, description="Cap on one wait, Retry-After too.")


class JiraSettings(JiraConnection):
    """``[sources.jira]``."""

    custom_fields: list[str] = Field(
        default_factory=list, description="Custom text field ids to scan, e.g. customfield_10010."
    )
    incremental: bool = Field(
        default=True, description="Scan only what the event changed; false: the whole ticket."
    )
    include_history: bool = Field(
        default=False, description="Also scan old values of text fields from the changelog."
    )
    max_attachment_bytes: int = Field(default=100 * 1024 * 1024, ge=0)
    max_comments: int = Field(default=10_000, ge=0, description="Stop after this many comments.")


class JiraSource(Source):
    """Jira Cloud and Data Center tickets, through atlassian-python-api."""

    name = "jira"
    description = "Jira Cloud / Data Center: fields, comments, attachments, history"
    priority: ClassVar[int] = 50
    Settings = JiraSettings

    @classmethod
    def is_configured(cls, section: Mapping[str, Any]) -> bool:
        return bool(section.get("url"))

    @classmethod
    def claims(cls, payload: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
        if any(k.lower().startswith("x-atlassian-webhook") for k in headers):
            return True
        event = payload.get("webhookEvent")
        if isinstance(event, str) and (
            event.startswith("jira:") or event.startswith(("comment_", "attachment_"))
        ):
            return True
        return "issue_event_type_name" in payload

    # ----------------------------------------------------------------------------- parse

    def _parse_event(self, payload: Mapping[str, Any], headers: Mapping[str, str]) -> TicketEvent:
        kind = payload.get("webhookEvent")
        if not isinstance(kind, str) or not kind:
            raise EventError("missing or not a string: a Jira webhook names its event here",
                             field="webhookEvent")
        if kind not in SUPPORTED_EVENTS:
            raise EventError(
                f"unsupported Jira event {kind[:60]!r}; supported: {', '.join(SUPPORTED_EVENTS)}",
                field="webhookEvent",
                hint="subscribe the webhook only to issue, comment and attachment events",
            )
        issue = payload.get("issue")
        if issue is None and kind.startswith("attachment_"):
            raise EventError(
                "Jira's attachment events do not say which issue the attachment belongs to",
                field="issue",
                hint="use jira:issue_updated (its changelog names new attachments) or the "
                "recommended Automation body in docs/jira.md",
            )
        if not isinstance(issue, Mapping):
            raise EventError("missing or not an object", field="issue")
        key = issue.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            raise EventError("missing or not a Jira issue key like 'SEC-42'", field="issue.key")
        fields = issue.get("fields") if isinstance(issue.get("fields"), Mapping) else {}
        project = fields.get("project") if isinstance(fields, Mapping) else None
        project_key = project.get("key") if isinstance(project, Mapping) else None
        if not isinstance(project_key, str):
            project_key = key.rsplit("-", 1)[0]
        settings = self._settings
        base = (settings.url or "").rstrip("/")
        url = f"{base}/browse/{key}" if base else _browse_url(issue.get("self"), key)
        delivery = headers.get("x-atlassian-webhook-identifier", "")
        event = TicketEvent(
            system="jira",
            event_type=kind,
            ticket=TicketRef(system="jira", key=key, url=url, project=project_key),
            delivery_id=str(delivery),
            payload=dict(payload),
        )
        if kind in DELETE_EVENTS:
            event.skip_reason = f"{kind}: nothing left to scan"
        elif kind.startswith("comment_"):
            event.comment_ids = [_id_of(payload, "comment")]
        elif kind == "attachment_created":
            event.attachment_ids = [_id_of(payload, "attachment")]
        elif kind == "jira:issue_updated":
            self._changes(payload, event)
        return event

    def _changes(self, payload: Mapping[str, Any], event: TicketEvent) -> None:
        """What a jira:issue_updated changed, from its changelog (and comment, on Server)."""
        changelog = payload.get("changelog")
        items: Iterable[Any] = ()
        if changelog is not None:
            if not isinstance(changelog, Mapping):
                raise EventError("not an object", field="changelog")
            raw = changelog.get("items", [])
            if not isinstance(raw, list):
                raise EventError("not a list", field="changelog.items")
            items = raw
        scanned = self._scanned_fields()
        changed: list[str] = []
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise EventError("not an object", field=f"changelog.items[{index}]")
            name = item.get("fieldId") or item.get("field")
            if not isinstance(name, str):
                raise EventError("missing field name", field=f"changelog.items[{index}].field")
            if name.lower() == "attachment":
                to = item.get("to")
                if to is not None and not _ID.match(str(to)):
                    raise EventError("not an attachment id",
                                     field=f"changelog.items[{index}].to")
                if to is not None:
                    event.attachment_ids.append(str(to))
                else:
                    changed.append("attachment")
            elif name in scanned or (item.get("fieldtype") == "custom" and not item.get("fieldId")
                                     and self._settings.custom_fields):
                changed.extend([name] if name in scanned else self._settings.custom_fields)
            else:
                changed.append(name)
        event.changed_fields = sorted(set(changed))
        if isinstance(payload.get("comment"), Mapping):
            event.comment_ids = [_id_of(payload, "comment")]
        if self._settings.incremental and not (
            event.comment_ids or event.attachment_ids
            or set(event.changed_fields) & (scanned | {"attachment"})
        ):
            what = ", ".join(event.changed_fields) or "nothing"
            event.skip_reason = f"jira:issue_updated changed no scanned part ({what})"

    @property
    def _settings(self) -> JiraSettings:
        settings = self.settings
        assert isinstance(settings, JiraSettings)
        return settings

    def _scanned_fields(self) -> set[str]:
        return {*BASE_FIELDS, *self._settings.custom_fields}

    # ----------------------------------------------------------------------------- fetch

    def _fetch(self, event: TicketEvent, writer: DocumentWriter) -> None:
        client = JiraClient(self._settings)
        try:
            _Fetch(self._settings, client, event, writer).run()
        finally:
            client.close()


class _Fetch:
    """One fetch: decides what to read for the event and writes Documents."""

    def __init__(self, settings: JiraSettings, client: JiraClient, event: TicketEvent,
                 writer: DocumentWriter) -> None:
        self.settings = settings
        self.client = client
        self.event = event
        self.writer = writer
        self.key = event.ticket.key
        self.adf = flavor_of(settings) == "cloud"

    def run(self) -> None:
        event, settings = self.event, self.settings
        whole = not settings.incremental or event.event_type == "jira:issue_created"
        want_fields = set(self._text_fields())
        if not whole:
            want_fields &= set(event.changed_fields)
        want_attachments = whole or "attachment" in event.changed_fields
        fields = [*sorted(want_fields), "attachment", "project"]
        try:
            issue = self.client.issue(self.key, fields)
        except NotFound:
            self.writer.skip(self.key, "the issue no longer exists or is not visible (HTTP 404)")
            return
        values = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
        assert isinstance(values, dict)
        for name in sorted(want_fields):
            self._field(name, values.get(name))
        if whole:
            self._all_comments()
        else:
            for comment_id in event.comment_ids:
                self._one_comment(comment_id)
        metas = [a for a in values.get("attachment") or [] if isinstance(a, dict)]
        if want_attachments:
            for each in metas:
                self._attachment(each)
        else:
            known = {str(m.get("id")): m for m in metas}
            for attachment_id in event.attachment_ids:
                meta: dict[str, Any] | None = known.get(attachment_id)
                if meta is None:
                    try:
                        meta = self.client.attachment(attachment_id)
                    except NotFound:
                        self.writer.skip(f"{self.key}/attachment/{attachment_id}",
                                         "the attachment no longer exists (HTTP 404)")
                        continue
                self._attachment(meta)
        if settings.include_history and (whole or want_fields):
            self._history(None if whole else want_fields)

    def _text_fields(self) -> list[str]:
        return [*BASE_FIELDS, *self.settings.custom_fields]

    def _to_text(self, value: Any) -> str | None:
        if isinstance(value, dict) and value.get("type") == "doc":
            return adf_to_text(value).text
        if isinstance(value, str):
            return value if self.adf else wiki_to_text(value).text
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return "\n".join(value)  # labels-like multi-value text
        return None

    def _field(self, name: str, value: Any) -> None:
        text = self._to_text(value)
        if not text:
            return
        part = {"summary": Part.SUMMARY, "description": Part.DESCRIPTION}.get(name, Part.FIELD)
        path = f"{self.key}/{name}" if name in BASE_FIELDS else f"{self.key}/field/{name}"
        self.writer.add_text(part=part, path=path, text=text, part_id=name,
                             media_type=self._media_type(value))

    def _media_type(self, value: Any) -> str:
        if isinstance(value, dict):
            return "application/vnd.atlassian.adf+json"
        return "text/plain" if self.adf else "text/x-jira-wiki"

    def _all_comments(self) -> None:
        count = 0
        try:
            for comment in self.client.comments(self.key):
                if count >= self.settings.max_comments:
                    self.writer.skip(f"{self.key}/comment", f"more than max_comments "
                                     f"({self.settings.max_comments}); the rest was not scanned",
                                     truncated=True)
                    return
                self._comment(comment)
                count += 1
        except NotFound:
            self.writer.skip(f"{self.key}/comment", "the issue's comments are gone (HTTP 404)")

    def _one_comment(self, comment_id: str) -> None:
        try:
            comment = self.client.comment(self.key, comment_id)
        except NotFound:
            self.writer.skip(f"{self.key}/comment/{comment_id}",
                             "the comment no longer exists or is not visible (HTTP 404)")
            return
        self._comment(comment)

    def _comment(self, comment: dict[str, Any]) -> None:
        comment_id = str(comment.get("id", ""))
        if not _ID.match(comment_id):
            self.writer.skip(f"{self.key}/comment/?", "Jira returned a comment without an id")
            return
        path = f"{self.key}/comment/{comment_id}"
        body = comment.get("body")
        text = self._to_text(body)
        if text is None:
            if body is not None:
                self.writer.skip(path, "comment body is neither ADF nor text")
            return
        public = comment.get("visibility") is None and comment.get("jsdPublic") is not False
        self.writer.add_text(
            part=Part.COMMENT, path=path, text=text, part_id=comment_id,
            media_type=self._media_type(body), author=_author(comment.get("author")),
            created_at=_when(comment.get("created")), public=public,
        )

    def _attachment(self, meta: dict[str, Any]) -> None:
        attachment_id = str(meta.get("id", ""))
        if not _ID.match(attachment_id):
            self.writer.skip(f"{self.key}/attachment/?", "attachment without a valid id")
            return
        raw_name = meta.get("filename")
        filename = raw_name if isinstance(raw_name, str) and raw_name else attachment_id
        base = filename.replace("\\", "/").rsplit("/", 1)[-1]
        safe = _UNSAFE.sub("_", base).strip(". ")[:200] or "file"
        path = f"{self.key}/attachment/{attachment_id}/{safe}"
        limit = self.settings.max_attachment_bytes
        size = meta.get("size")
        if isinstance(size, int) and size > limit:
            self.writer.skip(path, f"attachment is {size} bytes, over max_attachment_bytes "
                             f"({limit})")
            return
        mime = meta.get("mimeType") if isinstance(meta.get("mimeType"), str) else None
        with tempfile.TemporaryDirectory(prefix="ticketscan-jira-") as tmp:
            suffix = Path(safe).suffix[:16]
            dest = Path(tmp) / f"attachment-{attachment_id}{suffix}"
            try:
                self.client.download(attachment_id, dest, limit, _str(meta.get("content")))
            except NotFound:
                self.writer.skip(path, "the attachment no longer exists (HTTP 404)")
                return
            except TooLarge:
                self.writer.skip(path, f"download exceeded max_attachment_bytes ({limit})")
                return
            self.writer.add_file(part=Part.ATTACHMENT, path=path, file=dest,
                                 part_id=attachment_id, filename=safe, media_type=mime)

    def _history(self, only: set[str] | None) -> None:
        wanted = set(self._text_fields())
        try:
            histories = list(self.client.changelog(self.key))
        except NotFound:
            self.writer.skip(f"{self.key}/history", "the changelog is gone (HTTP 404)")
            return
        for history in histories:
            history_id = str(history.get("id", ""))
            if not _ID.match(history_id):
                continue
            for index, item in enumerate(history.get("items") or []):
                if not isinstance(item, dict):
                    continue
                name = item.get("fieldId") or item.get("field")
                if name not in wanted or (only is not None and name not in only):
                    continue
                old = item.get("fromString")
                if not isinstance(old, str) or not old:
                    continue
                text = old if self.adf else wiki_to_text(old).text
                self.writer.add_text(
                    part=Part.HISTORY, path=f"{self.key}/history/{history_id}/{name}",
                    part_id=f"{history_id}:{index}", text=text,
                    author=_author(history.get("author")), created_at=_when(history.get("created")),
                )


def _id_of(payload: Mapping[str, Any], name: str) -> str:
    obj = payload.get(name)
    if not isinstance(obj, Mapping):
        raise EventError("missing or not an object", field=name)
    value = obj.get("id")
    if value is None or not _ID.match(str(value)):
        raise EventError("missing or not a numeric id", field=f"{name}.id")
    return str(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _browse_url(self_url: Any, key: str) -> str | None:
    if isinstance(self_url, str) and "/rest/api/" in self_url:
        return self_url.split("/rest/api/", 1)[0] + f"/browse/{key}"
    return None


def _author(author: Any) -> str | None:
    if isinstance(author, dict):
        for k in ("accountId", "name", "key"):
            if isinstance(author.get(k), str):
                return str(author[k])
    return None


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None
