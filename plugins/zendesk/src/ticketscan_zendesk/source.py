"""The ``zendesk`` source: Zendesk webhook events → the ticket's text as Documents.

Fetched through zenpy: subject, description, every comment (public and private: the plain body
and, when it says more, the ``html_body`` turned into text), every attachment (inline images
too; streamed to disk in chunks, then handed to core's attachment extraction) and custom
fields holding text. Document paths: ``1234/subject``, ``1234/description``,
``1234/comment/5678``, ``1234/comment/5678/html``, ``1234/attachment/999/logs.zip``,
``1234/field/360001``.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

import requests
from pydantic import Field, SecretStr, field_validator
from ticketscan.components import ComponentSettings, Source
from ticketscan.documents import DocumentWriter
from ticketscan.log import register_secret
from ticketscan.models import Part, TicketEvent

from .client import (
    NotFound,
    RetryingAdapter,
    ZendeskSite,
    describe_credential,
    make_client,
    translate_errors,
)
from .events import looks_like_zendesk, parse_webhook
from .html import html_to_text

__all__ = ["ZendeskSource"]

log = logging.getLogger("ticketscan.zendesk")

CHUNK = 256 * 1024
_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f]+")
_WS = re.compile(r"\s+")

PERMISSION_TICKET = (
    "the user needs an agent role that can view this ticket (its group/organization) "
    "and 'Token access' enabled; for OAuth, the 'tickets:read' (or 'read') scope"
)
PERMISSION_ATTACHMENT = (
    "the user needs an agent role that can view the ticket's attachments "
    "(private attachments need an authenticated agent)"
)


class ZendeskSource(Source):
    """Zendesk Support tickets through zenpy (API token or OAuth token)."""

    name = "zendesk"
    description = "Zendesk Support tickets: subject, description, comments, attachments, fields"
    priority: ClassVar[int] = 50

    class Settings(ComponentSettings):
        subdomain: str | None = Field(
            default=None, description="Your Zendesk subdomain: 'acme' for acme.zendesk.com."
        )
        url: str | None = Field(
            default=None,
            description="Full URL instead of subdomain: 'https://acme.zendesk.com'. Any other "
            "host (a proxy, a local fake) is reached through zenpy's ZENPY_FORCE_NETLOC.",
        )
        email: str | None = Field(default=None, description="Agent e-mail for API-token auth.")
        token: SecretStr | None = Field(
            default=None, description='API token (by reference: { env = "ZENDESK_API_TOKEN" }).'
        )
        oauth_token: SecretStr | None = Field(
            default=None, description="OAuth access token instead of email + token."
        )
        scope: Literal["incremental", "ticket"] = Field(
            default="incremental",
            description="'incremental': a comment event scans that comment, an attachment "
            "event that attachment; 'ticket': every event rescans the whole ticket.",
        )
        custom_field_ids: list[int] | None = Field(
            default=None,
            description="Custom fields to scan; unset = every custom field with a text value, "
            "[] = none.",
        )
        include_inline: bool = Field(default=True, description="Also fetch inline images.")
        max_attachment_bytes: int = Field(
            default=100 * 1024 * 1024, ge=0, description="Larger attachments are skipped."
        )
        timeout: float = Field(default=30.0, gt=0, description="Read timeout per request (s).")
        connect_timeout: float = Field(default=10.0, gt=0, description="Connect timeout (s).")
        retries: int = Field(default=4, ge=0, le=10, description="Retries on 429/5xx/timeouts.")
        backoff_base: float = Field(default=0.5, ge=0, description="First backoff wait (s).")
        backoff_max: float = Field(default=30.0, ge=0, description="Longest backoff wait (s).")
        max_retry_after: float = Field(
            default=120.0,
            ge=0,
            description="Longest Retry-After honoured in-process; longer → exit 3 at once.",
        )

        @field_validator("url", "subdomain", "email")
        @classmethod
        def _blank_is_none(cls, value: str | None) -> str | None:
            return value.strip() or None if isinstance(value, str) else value

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        super().__init__(settings)
        self._client: Any = None
        self._session: requests.Session | None = None
        self.adapter: RetryingAdapter | None = None

    # ------------------------------------------------------------------ configuration

    @property
    def cfg(self) -> ZendeskSource.Settings:
        assert isinstance(self.settings, ZendeskSource.Settings)
        return self.settings

    @classmethod
    def is_configured(cls, section: Mapping[str, Any]) -> bool:
        return bool(section.get("subdomain") or section.get("url"))

    @classmethod
    def claims(cls, payload: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
        return looks_like_zendesk(payload, headers)

    def _site(self) -> ZendeskSite | None:
        if not (self.cfg.subdomain or self.cfg.url):
            return None
        return ZendeskSite.from_settings(self.cfg.subdomain, self.cfg.url)

    def client(self) -> tuple[Any, requests.Session]:
        """The zenpy client and its session (built once per source instance)."""
        if self._client is None or self._session is None:
            site = self._site() or ZendeskSite.from_settings(None, None)
            token = self.cfg.token.get_secret_value() if self.cfg.token else None
            oauth = self.cfg.oauth_token.get_secret_value() if self.cfg.oauth_token else None
            for value in (token, oauth):
                if value:
                    register_secret(value)
            # zenpy logs whole requests and responses at DEBUG: ticket text must not reach logs
            logging.getLogger("zenpy").setLevel(logging.WARNING)
            # urllib3 logs every URL at DEBUG, attachment download tokens (capability URLs) too
            logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)
            self._client, self._session, self.adapter = make_client(
                site,
                email=self.cfg.email,
                token=token,
                oauth_token=oauth,
                timeout=self.cfg.timeout,
                connect_timeout=self.cfg.connect_timeout,
                retries=self.cfg.retries,
                backoff_base=self.cfg.backoff_base,
                backoff_max=self.cfg.backoff_max,
                max_retry_after=self.cfg.max_retry_after,
            )
            self.site = site
        return self._client, self._session

    @property
    def credential(self) -> str:
        return describe_credential(self.cfg.email, bool(self.cfg.oauth_token))

    # ------------------------------------------------------------------ events

    def _parse_event(self, payload: Mapping[str, Any], headers: Mapping[str, str]) -> TicketEvent:
        site = self._site()
        return parse_webhook(
            payload,
            headers,
            base_url=site.base_url if site else None,
            whole_ticket=self.cfg.scope == "ticket",
        )

    # ------------------------------------------------------------------ fetch

    def _fetch(self, event: TicketEvent, writer: DocumentWriter) -> None:
        client, _session = self.client()
        key = event.ticket.key
        try:
            with translate_errors(
                f"reading ticket {key}", credential=self.credential, permission=PERMISSION_TICKET
            ):
                ticket = client.tickets(id=int(key)).to_dict()
        except NotFound as exc:
            writer.skip(key, f"ticket not found: deleted meanwhile or never existed ({exc})")
            return
        targeted = bool(event.comment_ids or event.attachment_ids or event.changed_fields)
        whole = self.cfg.scope == "ticket" or not targeted
        comments: list[dict[str, Any]] | None = None
        if (
            whole
            or event.comment_ids
            or event.attachment_ids
            or "description" in event.changed_fields
        ):
            comments = self._comments(key, writer)
            if comments is None:
                return
        first_id = str(comments[0].get("id")) if comments else None
        description = ticket.get("description") or ""
        first_is_description = bool(
            comments and _norm(_plain(comments[0])) == _norm(description) and description
        )

        if whole or "subject" in event.changed_fields:
            subject = ticket.get("subject") or ticket.get("raw_subject") or ""
            if subject:
                writer.add_text(part=Part.SUMMARY, path=f"{key}/subject", text=subject)
        if (whole or "description" in event.changed_fields) and description:
            writer.add_text(
                part=Part.DESCRIPTION,
                path=f"{key}/description",
                text=description,
                part_id=first_id if first_is_description else None,
                author=_str(ticket.get("requester_id")),
                created_at=_when(ticket.get("created_at")),
                public=comments[0].get("public") if first_is_description and comments else None,
            )
        self._fields(ticket, event, writer, whole)

        wanted_comments = set(event.comment_ids)
        wanted_attachments = set(event.attachment_ids)
        found_comments: set[str] = set()
        found_attachments: set[str] = set()
        for index, comment in enumerate(comments or []):
            cid = str(comment.get("id"))
            comment_wanted = whole or cid in wanted_comments
            if comment_wanted:
                found_comments.add(cid)
                skip_plain = (
                    index == 0
                    and first_is_description
                    and (whole or "description" in event.changed_fields)
                )
                self._comment_text(key, comment, writer, skip_plain=skip_plain)
            for attachment in comment.get("attachments") or []:
                aid = str(attachment.get("id"))
                if comment_wanted or aid in wanted_attachments:
                    found_attachments.add(aid)
                    self._attachment(key, cid, attachment, writer)
        for cid in sorted(wanted_comments - found_comments):
            writer.skip(
                f"{key}/comment/{cid}", "comment not found on the ticket (deleted meanwhile?)"
            )
        for aid in sorted(wanted_attachments - found_attachments):
            writer.skip(
                f"{key}/attachment/{aid}",
                "attachment not found on the ticket (redacted or deleted?)",
            )

    def _comments(self, key: str, writer: DocumentWriter) -> list[dict[str, Any]] | None:
        client, _ = self.client()
        try:
            with translate_errors(
                f"listing comments of ticket {key}",
                credential=self.credential,
                permission=PERMISSION_TICKET,
            ):
                generator = client.tickets.comments(
                    ticket=int(key), include_inline_images=self.cfg.include_inline
                )
                return [comment.to_dict() for comment in generator]
        except NotFound as exc:
            writer.skip(key, f"ticket not found while listing comments ({exc})")
            return None

    def _comment_text(
        self, key: str, comment: Mapping[str, Any], writer: DocumentWriter, *, skip_plain: bool
    ) -> None:
        cid = str(comment.get("id"))
        plain = _plain(comment)
        meta: dict[str, Any] = {
            "author": _str(comment.get("author_id")),
            "created_at": _when(comment.get("created_at")),
            "public": comment.get("public") if isinstance(comment.get("public"), bool) else None,
        }
        if plain and not skip_plain:
            writer.add_text(
                part=Part.COMMENT, part_id=cid, path=f"{key}/comment/{cid}", text=plain, **meta
            )
        html = comment.get("html_body")
        if isinstance(html, str) and html.strip():
            text = html_to_text(html)
            if text and _norm(text) != _norm(plain):
                writer.add_text(
                    part=Part.COMMENT,
                    part_id=cid,
                    path=f"{key}/comment/{cid}/html",
                    text=text,
                    media_type="text/html",
                    original=html.encode("utf-8", "surrogatepass"),
                    **meta,
                )

    def _fields(
        self, ticket: Mapping[str, Any], event: TicketEvent, writer: DocumentWriter, whole: bool
    ) -> None:
        key = event.ticket.key
        changed = {
            f.split(":", 1)[1] for f in event.changed_fields if f.startswith("custom_field:")
        }
        if not whole and not changed:
            return
        allowed = self.cfg.custom_field_ids
        values = ticket.get("custom_fields") or ticket.get("fields") or []
        for item in values:
            if not isinstance(item, Mapping):
                continue
            fid, value = item.get("id"), item.get("value")
            if not isinstance(value, str) or not value.strip():
                continue
            if allowed is not None and fid not in allowed:
                continue
            if not whole and str(fid) not in changed:
                continue
            writer.add_text(
                part=Part.FIELD, part_id=str(fid), path=f"{key}/field/{fid}", text=value
            )

    # ------------------------------------------------------------------ attachments

    def _attachment(
        self, key: str, comment_id: str, attachment: Mapping[str, Any], writer: DocumentWriter
    ) -> None:
        aid = str(attachment.get("id"))
        raw_name = str(attachment.get("file_name") or f"attachment-{aid}")
        name = _UNSAFE_NAME.sub("_", raw_name).strip(" .") or f"attachment-{aid}"
        path = f"{key}/attachment/{aid}/{name}"
        size = attachment.get("size")
        limit = self.cfg.max_attachment_bytes
        if attachment.get("deleted"):
            writer.skip(path, "attachment was deleted in Zendesk")
            return
        if attachment.get("malware_scan_result") == "malware_found" and not attachment.get(
            "malware_access_override"
        ):
            writer.skip(path, "Zendesk flagged it as malware and blocks the download")
            return
        if isinstance(size, int) and size > limit:
            writer.skip(path, f"larger than max_attachment_bytes ({size} > {limit} bytes)")
            return
        url = attachment.get("content_url") or attachment.get("mapped_content_url")
        if not isinstance(url, str) or not url:
            writer.skip(path, "attachment has no content_url")
            return
        if not self.site.owns(url):
            writer.skip(path, "content_url is not on the Zendesk host; not downloaded")
            return
        with tempfile.TemporaryDirectory(prefix="ticketscan-zendesk-") as tmp:
            file = Path(tmp) / name
            try:
                with translate_errors(
                    f"downloading attachment {aid} of ticket {key}",
                    credential=self.credential,
                    permission=PERMISSION_ATTACHMENT,
                ):
                    complete = self._download(url, file, limit)
            except NotFound as exc:
                writer.skip(path, f"attachment not found: deleted meanwhile ({exc})")
                return
            if not complete:
                writer.skip(path, f"larger than max_attachment_bytes ({limit} bytes)")
                return
            writer.add_file(
                part=Part.ATTACHMENT,
                path=path,
                file=file,
                part_id=aid,
                filename=raw_name,
                media_type=_str(attachment.get("content_type")),
            )

    def _download(self, url: str, file: Path, limit: int) -> bool:
        """Stream ``url`` to ``file`` in chunks; False if it grows past ``limit``."""
        _, session = self.client()
        with session.get(
            url, stream=True, timeout=(self.cfg.connect_timeout, self.cfg.timeout)
        ) as response:
            if response.status_code >= 400:
                response.raise_for_status()
            written = 0
            with file.open("wb") as out:
                for chunk in response.iter_content(CHUNK):
                    written += len(chunk)
                    if written > limit:
                        return False
                    out.write(chunk)
        return True


def _plain(comment: Mapping[str, Any]) -> str:
    for key in ("body", "plain_body"):
        value = comment.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
