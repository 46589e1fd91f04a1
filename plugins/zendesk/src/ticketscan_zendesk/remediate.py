"""The ``zendesk-remediate`` sink: redact leaked secrets where they were pasted in Zendesk.

No secret travels through the pipeline: a finding carries only ``secret_sha256``, a redacted
form and its location. At action time this sink re-reads the ticket from Zendesk, cuts the text
at the finding's location out of the same text representation the source produced (the plain
``body``, or ``html_body`` turned into text by :func:`ticketscan_zendesk.html.html_to_text`;
for attachments, the file re-downloaded and re-extracted by core), and acts only if the sha256
of that text equals the finding's ``secret_sha256``. The text it found is kept in memory for the
one redaction call that needs it (Zendesk's redaction APIs take the text to remove) and nowhere
else: not in logs, not in the report, not in notes.

Actions (each planned only — a dry run — unless its switch is on and no dry run was asked):

* ``redact`` a comment's text: ``PUT /api/v2/comment_redactions/{comment_id}`` (Agent Workspace:
  ``ticket_id`` + the comment's ``html_body`` with ``<redact>`` tags) or the older
  ``PUT /api/v2/tickets/{ticket_id}/comments/{comment_id}/redact`` (``{"text": ...}``);
  an attachment: ``PUT /api/v2/tickets/{t}/comments/{c}/attachments/{a}/redact``;
* ``make_private``: ``PUT /api/v2/tickets/{t}/comments/{c}/make_private``;
* ``internal_note``: a private comment saying what was found and done (type, redacted form,
  fingerprint), added once per finding (notes carry ``ticketscan-ref:`` markers);
* ``notify_reporter``: a templated public reply asking to rotate the credential, once.

Every action, done or planned or refused, is a record in ``report.actions``.
"""

from __future__ import annotations

import logging
import re
import string
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import requests
from pydantic import Field, SecretStr, field_validator
from ticketscan.components import ComponentSettings, PublishContext, Sink
from ticketscan.documents import DocumentWriter
from ticketscan.errors import TicketscanError
from ticketscan.log import register_secret
from ticketscan.models import Finding, Part, SinkReport, TicketEvent, sha256_text

from .client import NotFound, translate_errors
from .html import html_to_text
from .locate import REDACTED_CHAR, Span, candidate, mark_html
from .policy import DEFAULT_POLICIES, Policy, choose_policy
from .source import ZendeskSource, _plain

__all__ = ["ZendeskRemediateSink"]

log = logging.getLogger("ticketscan.zendesk.remediate")

MARKER = "ticketscan-ref:"
_MARKER_RE = re.compile(re.escape(MARKER) + r"((?:\s+[0-9a-f]{8,64})+)")

PERMISSION_READ = "the agent must be able to view the ticket"
PERMISSION_REDACT = (
    "redaction needs an agent allowed to delete tickets (Admin Center → People → Roles, or "
    "'Agents can delete tickets' on Professional) or, on Enterprise, a custom role allowed to "
    "redact ticket content; the Agent Workspace endpoint also needs Agent Workspace enabled"
)
PERMISSION_PRIVATE = "making a comment private needs an agent who can edit the ticket"
PERMISSION_COMMENT = "adding a comment needs an agent who can edit the ticket (tickets:write)"

DEFAULT_REPORTER_MESSAGE = (
    "Hello,\n\n"
    "This ticket contained a credential ($types). To protect you, it has been removed from "
    "the ticket. Please treat it as exposed: revoke it and create a new one as soon as "
    "possible, and please do not send passwords, keys or tokens in support requests.\n\n"
    "Thank you."
)

Api = Literal["agent_workspace", "legacy"]


@dataclass
class Target:
    """One finding being remediated. ``secret`` lives in memory only and is never shown."""

    finding: Finding
    policy: Policy | None
    actions: list[str]
    state: str = "unverified"  # present | redacted | changed | gone | unsupported | unverified
    reason: str = ""
    comment_id: int | None = None
    attachment_id: int | None = None
    public: bool | None = None
    span: Span | None = None
    in_html: bool = False
    secret: str | None = field(default=None, repr=False)
    outcome: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        loc = self.finding.location
        at = f" ({self.span.describe()})" if self.span else f" (line {loc.line})"
        return f"{loc.path}{at}"


class ZendeskRemediateSink(Sink):
    """Redacts verified secrets in Zendesk comments and attachments; notes and notifies."""

    name = "zendesk-remediate"
    description = "Zendesk remediation: redact comment text/attachments, make private, notes"
    batch_by_ticket = True

    class Settings(ComponentSettings):
        # -- where and who (an agent allowed to redact; see docs/zendesk.md)
        subdomain: str | None = Field(default=None, description="Zendesk subdomain ('acme').")
        url: str | None = Field(default=None, description="Full URL instead of subdomain.")
        email: str | None = Field(default=None, description="Agent e-mail for API-token auth.")
        token: SecretStr | None = Field(default=None, description="API token (by reference).")
        oauth_token: SecretStr | None = Field(default=None, description="OAuth token instead.")
        timeout: float = Field(default=30.0, gt=0)
        connect_timeout: float = Field(default=10.0, gt=0)
        retries: int = Field(default=4, ge=0, le=10)
        backoff_base: float = Field(default=0.5, ge=0)
        backoff_max: float = Field(default=30.0, ge=0)
        max_retry_after: float = Field(default=120.0, ge=0)
        max_attachment_bytes: int = Field(default=100 * 1024 * 1024, ge=0)
        # -- what may change (all off: everything is only planned)
        dry_run: bool = Field(default=False, description="Plan only, whatever the switches say.")
        redact_comments: bool = Field(default=False, description="Really redact comment text.")
        redact_attachments: bool = Field(default=False, description="Really redact attachments.")
        make_private: bool = Field(default=False, description="Really make comments private.")
        internal_note: bool = Field(default=False, description="Really add internal notes.")
        notify_reporter: bool = Field(default=False, description="Really post the public reply.")
        # -- how
        redaction_api: Literal["auto", "agent_workspace", "legacy"] = Field(
            default="auto",
            description="'agent_workspace': PUT /api/v2/comment_redactions/{id}; 'legacy': "
            "PUT .../comments/{id}/redact; 'auto': Agent Workspace, falling back to legacy "
            "when Zendesk answers 403/404 for it (remembered for the run).",
        )
        verify_after: bool = Field(
            default=True, description="Re-read the comments after redacting and check."
        )
        system: str = Field(default="zendesk", description="Findings of this source only.")
        policies: list[Policy] = Field(
            default_factory=lambda: [p.model_copy() for p in DEFAULT_POLICIES],
            description="First match decides the actions; see docs/zendesk.md.",
        )
        reporter_message: str = Field(
            default=DEFAULT_REPORTER_MESSAGE,
            description="Public reply; $types, $count and $ticket are filled in.",
        )

        @field_validator("reporter_message")
        @classmethod
        def _template_ok(cls, value: str) -> str:
            try:
                string.Template(value).substitute(types="x", count="1", ticket="1")
            except (KeyError, ValueError) as exc:
                raise ValueError(f"unknown or malformed placeholder {exc}; use $types, "
                                 "$count, $ticket") from None
            return value

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        super().__init__(settings)
        self._source: ZendeskSource | None = None
        self._api: Api | None = None

    @property
    def cfg(self) -> ZendeskRemediateSink.Settings:
        assert isinstance(self.settings, ZendeskRemediateSink.Settings)
        return self.settings

    # ------------------------------------------------------------------ connection

    @property
    def source(self) -> ZendeskSource:
        """A ZendeskSource with our connection settings: its client, retries, downloads."""
        if self._source is None:
            c = self.cfg
            settings = ZendeskSource.Settings(
                subdomain=c.subdomain,
                url=c.url,
                email=c.email,
                token=c.token,
                oauth_token=c.oauth_token,
                timeout=c.timeout,
                connect_timeout=c.connect_timeout,
                retries=c.retries,
                backoff_base=c.backoff_base,
                backoff_max=c.backoff_max,
                max_retry_after=c.max_retry_after,
                max_attachment_bytes=c.max_attachment_bytes,
            )
            self._source = ZendeskSource(settings)
            self._source.client()
            adapter = self._source.adapter
            if adapter is not None:
                # adding a comment is a PUT too, but not idempotent: never resend it
                adapter.no_retry = _adds_comment
        return self._source

    def _call(self, what: str, permission: str) -> Any:
        return translate_errors(what, credential=self.source.credential, permission=permission)

    def _url(self, path: str) -> str:
        return f"{self.source.site.base_url}{path}"

    def _put(self, what: str, permission: str, path: str, body: Any = None) -> requests.Response:
        _, session = self.source.client()
        with self._call(what, permission):
            response = session.put(
                self._url(path),
                json=body,
                timeout=(self.cfg.connect_timeout, self.cfg.timeout),
            )
            if response.status_code == 404:
                raise NotFound(f"{what}: not found (404)")
            response.raise_for_status()
        return response

    # ------------------------------------------------------------------ publish

    def _publish(
        self, findings: Sequence[Finding], context: PublishContext, report: SinkReport
    ) -> None:
        by_ticket: dict[str, list[Finding]] = {}
        for finding in findings:
            if finding.ticket.system != self.cfg.system:
                report.suppressed.append(finding.id)
                continue
            by_ticket.setdefault(finding.ticket.key, []).append(finding)
        for key, group in by_ticket.items():
            _Run(self, key, group, context, report).run()

    def close(self) -> None:
        if self._source is not None and self._source._session is not None:
            self._source._session.close()


def _adds_comment(request: requests.PreparedRequest) -> bool:
    path = (request.path_url or "").split("?", 1)[0]
    return bool(request.method == "PUT" and re.fullmatch(r"/api/v2/tickets/\d+(\.json)?", path))


class _Run:
    """Remediation of one ticket's findings in one publish."""

    def __init__(
        self,
        sink: ZendeskRemediateSink,
        key: str,
        findings: Sequence[Finding],
        context: PublishContext,
        report: SinkReport,
    ) -> None:
        self.sink, self.cfg, self.key = sink, sink.cfg, key
        self.findings = findings
        self.context, self.report = context, report
        self.ticket: dict[str, Any] = {}
        self.comments: list[dict[str, Any]] = []

    # -- helpers
    def live(self, switch: str) -> bool:
        """True when an action may really change Zendesk (its switch on, no dry run)."""
        return bool(getattr(self.cfg, switch)) and not (self.context.dry_run or self.cfg.dry_run)

    def why_planned(self, switch: str) -> str:
        if self.context.dry_run:
            return "dry run (--dry-run)"
        if self.cfg.dry_run:
            return "dry run (dry_run = true)"
        return f"{switch} is off"

    def record(self, action: str, status: str, target: Target | None = None, **extra: Any) -> None:
        entry: dict[str, Any] = {"action": action, "status": status, "ticket": self.key}
        if target is not None:
            f = target.finding
            entry.update(
                finding=f.id,
                fingerprint=f.fingerprint,
                type=f.type,
                redacted=f.redacted,
                location=target.where,
                policy=target.policy.name if target.policy else None,
            )
        entry.update({k: v for k, v in extra.items() if v is not None})
        self.report.actions.append(entry)
        level = logging.WARNING if status == "failed" else logging.INFO
        edit = extra.get("edit")
        log.log(
            level,
            "zendesk-remediate: %s %s on ticket %s%s%s%s",
            action,
            status,
            self.key,
            f" {target.finding.type} {target.finding.redacted} at {target.where}" if target else "",
            f" via {extra['request']}" + (f" → {edit['after']}" if edit else "")
            if extra.get("request") and status in ("planned", "done")
            else "",
            f": {extra['reason']}" if extra.get("reason") else "",
        )

    def fail(self, target: Target, reason: str) -> None:
        self.report.failed[target.finding.id] = reason

    # -- main
    def run(self) -> None:
        try:
            with self.sink._call(f"reading ticket {self.key}", PERMISSION_READ):
                client, _ = self.sink.source.client()
                self.ticket = client.tickets(id=int(self.key)).to_dict()
            self.comments = self._comments()
        except NotFound as exc:
            for f in self.findings:
                self.record("verify", "skipped", Target(f, None, []), reason=f"ticket gone: {exc}")
            return
        except (TicketscanError, ValueError) as exc:
            for f in self.findings:
                self.report.failed[f.id] = str(exc)
            self.record("verify", "failed", reason=str(exc))
            return

        targets: list[Target] = []
        for finding in self.findings:
            policy = choose_policy(self.cfg.policies, finding, self.ticket)
            actions: list[str] = list(policy.actions) if policy else []
            if not actions:
                self.report.suppressed.append(finding.id)
                self.record(
                    "none", "skipped", Target(finding, policy, []),
                    reason="no policy asks for an action",
                )
                continue
            target = Target(finding, policy, actions)
            try:
                self._verify(target)
            except (TicketscanError, NotFound) as exc:
                # this finding cannot be checked now (e.g. its attachment will not download)
                target.state, target.reason = "error", str(exc)
                self.fail(target, str(exc))
                self.record("verify", "failed", target, reason=str(exc))
                continue
            targets.append(target)
        try:
            self._make_private(targets)
            self._redact_comments(targets)
            self._redact_attachments(targets)
            if self.cfg.verify_after and any(t.outcome.get("redact") == "done" for t in targets):
                self._verify_after(targets)
            self._note(targets)
            self._notify(targets)
        finally:
            for target in targets:
                target.secret = None  # drop it as soon as we are done

    def _comments(self) -> list[dict[str, Any]]:
        client, _ = self.sink.source.client()
        with self.sink._call(f"listing comments of ticket {self.key}", PERMISSION_READ):
            return [
                c.to_dict()
                for c in client.tickets.comments(ticket=int(self.key), include_inline_images=True)
            ]

    # -- verification
    def _comment(self, cid: int | None) -> dict[str, Any] | None:
        return next((c for c in self.comments if c.get("id") == cid), None)

    def _verify(self, target: Target) -> None:
        """Find the finding's text again and check it hashes to secret_sha256."""
        loc = target.finding.location
        part = loc.part
        text: str | None = None
        if part in (Part.SUMMARY, Part.FIELD, Part.HISTORY, Part.FILE):
            target.state = "unsupported"
            what = {Part.SUMMARY: "subject", Part.FIELD: "custom fields"}.get(part, part.value)
            target.reason = f"Zendesk has no redaction for a ticket's {what}; edit it by hand"
            return
        if part in (Part.ATTACHMENT, Part.ARCHIVE_MEMBER):
            self._locate_attachment(target)
            if target.state != "unverified" or not (
                {"redact", "make_private"} & set(target.actions)
            ):
                return
            text = self._attachment_text(target)
        else:
            target.comment_id = _int(loc.part_id)
            comment = self._comment(target.comment_id)
            if target.comment_id is None or comment is None:
                target.state = "gone" if target.comment_id is not None else "unsupported"
                target.reason = (
                    "comment not found on the ticket (deleted meanwhile?)"
                    if target.comment_id is not None
                    else "no comment id for this part (description not the first comment)"
                )
                return
            target.public = _bool(comment.get("public"))
            if part == Part.DESCRIPTION:
                text = str(self.ticket.get("description") or "")
            elif loc.path.endswith("/html"):
                target.in_html = True
                text = html_to_text(str(comment.get("html_body") or ""))
            else:
                text = _plain(comment)
        if text is None:
            return
        self._check(target, text)

    def _check(self, target: Target, text: str) -> None:
        f = target.finding
        seen_redacted: Span | None = None
        for span in _spans(f):
            cut = candidate(text, span)
            if cut is None:
                continue
            if sha256_text(cut) == f.secret_sha256:
                register_secret(cut)  # last line of defence, should anything try to log it
                target.secret, target.span, target.state = cut, span, "present"
                return
            if cut.startswith(REDACTED_CHAR) and seen_redacted is None:
                seen_redacted = span
        if seen_redacted is not None:
            target.span, target.state = seen_redacted, "redacted"
            target.reason = "already redacted"
            return
        target.state = "changed"
        target.reason = (
            "the text at the finding's location no longer hashes to its secret_sha256 "
            "(changed since the scan, or the secret was found in an encoded form); nothing done"
        )

    def _locate_attachment(self, target: Target) -> None:
        aid = _int(target.finding.location.part_id)
        target.attachment_id = aid
        for comment in self.comments:
            for att in comment.get("attachments") or []:
                if att.get("id") == aid:
                    target.comment_id = _int(comment.get("id"))
                    target.public = _bool(comment.get("public"))
                    if att.get("file_name") == "redacted.txt" and not att.get("size"):
                        target.state, target.reason = "redacted", "attachment already redacted"
                    elif att.get("deleted"):
                        target.state, target.reason = "gone", "attachment deleted"
                    return
        target.state = "gone"
        target.reason = "attachment not found on the ticket (redacted or deleted?)"

    def _attachment_text(self, target: Target) -> str | None:
        """Re-download the attachment and re-extract it as the fetch step did."""
        source = self.sink.source
        comment = self._comment(target.comment_id) or {}
        att = next(
            a for a in comment.get("attachments") or [] if a.get("id") == target.attachment_id
        )
        url = att.get("content_url") or att.get("mapped_content_url")
        loc = target.finding.location
        if not isinstance(url, str) or not source.site.owns(url):
            target.state, target.reason = "unsupported", "attachment URL not on the Zendesk host"
            return None
        event = TicketEvent(
            system="zendesk", event_type="remediate", ticket=target.finding.ticket,
            delivery_id=f"remediate-{self.key}",
        )
        with tempfile.TemporaryDirectory(prefix="ticketscan-zendesk-remediate-") as tmp:
            file = Path(tmp) / "download"
            with self.sink._call(f"downloading attachment {target.attachment_id}", PERMISSION_READ):
                complete = source._download(url, file, self.cfg.max_attachment_bytes)
            if not complete:
                target.state = "unsupported"
                target.reason = "attachment larger than max_attachment_bytes"
                return None
            writer = DocumentWriter(Path(tmp) / "docs", event)
            base = loc.path.split("!/", 1)[0]
            writer.add_file(
                part=Part.ATTACHMENT,
                path=base,
                file=file,
                part_id=str(target.attachment_id),
                filename=str(att.get("file_name") or "attachment"),
                media_type=att.get("content_type"),
            )
            doc = next((d for d in writer.documents if d.path == loc.path), None)
            if doc is None:
                target.state = "changed"
                target.reason = "the attachment no longer holds the document the finding is in"
                return None
            return (Path(tmp) / "docs" / doc.text_path).read_text(
                encoding="utf-8", errors="surrogatepass"
            )

    # -- actions
    def _make_private(self, targets: Sequence[Target]) -> None:
        done: dict[int, str] = {}
        for target in targets:
            if "make_private" not in target.actions:
                continue
            cid = target.comment_id
            if target.state != "present" or cid is None:
                self._refuse("make_private", target)
                continue
            if not target.public:
                self.record("make_private", "noop", target, reason="comment is already private")
                continue
            request = f"PUT /api/v2/tickets/{self.key}/comments/{cid}/make_private"
            if cid in done:
                self.record("make_private", done[cid], target, request=request,
                            reason="same comment as above")
                continue
            if not self.live("make_private"):
                done[cid] = "planned"
                self.record("make_private", "planned", target, request=request,
                            reason=self.why_planned("make_private"))
                continue
            try:
                self.sink._put(
                    f"making comment {cid} private", PERMISSION_PRIVATE,
                    f"/api/v2/tickets/{self.key}/comments/{cid}/make_private.json",
                )
            except (TicketscanError, NotFound) as exc:
                self.fail(target, str(exc))
                self.record("make_private", "failed", target, request=request, reason=str(exc))
                continue
            done[cid] = "done"
            target.public = False
            self.record("make_private", "done", target, request=request)

    def _refuse(self, action: str, target: Target) -> None:
        if target.state == "redacted" and action == "redact":
            target.outcome[action] = "noop"
            self.record(action, "noop", target, reason=target.reason)
            return
        target.outcome[action] = "skipped"
        self.record(action, "skipped", target, reason=target.reason or target.state)

    def _redact_comments(self, targets: Sequence[Target]) -> None:
        per_comment: dict[int, list[Target]] = {}
        for target in targets:
            if "redact" not in target.actions or target.finding.location.part in (
                Part.ATTACHMENT, Part.ARCHIVE_MEMBER,
            ):
                continue
            if target.state != "present" or target.comment_id is None or not target.secret:
                self._refuse("redact", target)
                continue
            per_comment.setdefault(target.comment_id, []).append(target)
        for cid, group in per_comment.items():
            self._redact_comment(cid, group)

    def _choose_api(self) -> Api:
        if self.sink._api is not None:
            return self.sink._api
        return "legacy" if self.cfg.redaction_api == "legacy" else "agent_workspace"

    def _redact_comment(self, cid: int, group: list[Target]) -> None:
        comment = self._comment(cid) or {}
        secrets = sorted({t.secret for t in group if t.secret}, key=len, reverse=True)
        api = self._choose_api()
        html_body = str(comment.get("html_body") or "")
        marked = mark_html(html_body, secrets) if api == "agent_workspace" else None
        if marked is not None and marked.count == 0:
            if self.cfg.redaction_api == "agent_workspace":
                for t in group:
                    self._redact_failed(t, "the secret is not in the comment's html_body in a "
                                        "form that can be marked; redact it by hand")
                return
            api, marked = "legacy", None  # auto: the older endpoint takes the plain text
        edits = [
            {
                "before": t.finding.redacted,
                "after": REDACTED_CHAR * len(t.secret or ""),
                "at": t.span.describe() if t.span else None,
            }
            for t in group
        ]
        if api == "agent_workspace":
            request = f"PUT /api/v2/comment_redactions/{cid}"
            spans, attrs = (marked.in_text, marked.in_tags) if marked else (0, 0)
            detail = f"html_body with {spans} <redact> span(s)" + (
                f" and {attrs} redact attribute(s)" if attrs else ""
            )
        else:
            request = f"PUT /api/v2/tickets/{self.key}/comments/{cid}/redact"
            detail = f"{len(secrets)} call(s) with the text to remove"
        if not self.live("redact_comments"):
            for t, edit in zip(group, edits, strict=True):
                t.outcome["redact"] = "planned"
                self.record("redact", "planned", t, api=api, request=request, body=detail,
                            edit=edit, reason=self.why_planned("redact_comments"))
            return
        try:
            if api == "agent_workspace":
                assert marked is not None
                fallback = self._redact_aw(cid, marked.html)
                if fallback:
                    self.sink._api = "legacy"
                    api = "legacy"
                    request = f"PUT /api/v2/tickets/{self.key}/comments/{cid}/redact"
                    detail = f"{len(secrets)} call(s) with the text to remove ({fallback})"
            if api == "legacy":
                client, _ = self.sink.source.client()
                for secret in secrets:
                    with self.sink._call(f"redacting comment {cid}", PERMISSION_REDACT):
                        client.tickets.comment_redact(int(self.key), cid, secret)
        except (TicketscanError, NotFound) as exc:
            for t in group:
                self._redact_failed(t, str(exc), api=api, request=request)
            return
        for t, edit in zip(group, edits, strict=True):
            t.outcome["redact"] = "done"
            self.record("redact", "done", t, api=api, request=request, body=detail, edit=edit)

    def _redact_aw(self, cid: int, marked_html: str) -> str | None:
        """Call the Agent Workspace endpoint; a reason string if 'auto' should fall back."""
        what = f"redacting comment {cid} (Agent Workspace)"
        try:
            self.sink._put(
                what, PERMISSION_REDACT, f"/api/v2/comment_redactions/{cid}.json",
                {"ticket_id": int(self.key), "html_body": marked_html},
            )
        except NotFound:
            if self.cfg.redaction_api == "auto":
                return "Agent Workspace endpoint answered 404"
            raise
        except TicketscanError as exc:
            if self.cfg.redaction_api == "auto" and "403" in str(exc):
                return "Agent Workspace endpoint answered 403"
            raise
        self.sink._api = "agent_workspace"
        return None

    def _redact_failed(self, target: Target, reason: str, **extra: Any) -> None:
        target.outcome["redact"] = "failed"
        self.fail(target, reason)
        self.record("redact", "failed", target, reason=reason, **extra)

    def _redact_attachments(self, targets: Sequence[Target]) -> None:
        done: dict[int, str] = {}
        for target in targets:
            if "redact" not in target.actions or target.finding.location.part not in (
                Part.ATTACHMENT, Part.ARCHIVE_MEMBER,
            ):
                continue
            aid, cid = target.attachment_id, target.comment_id
            if target.state != "present" or aid is None or cid is None:
                self._refuse("redact", target)
                continue
            request = f"PUT /api/v2/tickets/{self.key}/comments/{cid}/attachments/{aid}/redact"
            edit = {"before": "the whole attachment", "after": "empty redacted.txt"}
            if aid in done:
                target.outcome["redact"] = done[aid]
                self.record("redact", done[aid], target, request=request, edit=edit,
                            reason="same attachment as above")
                continue
            if not self.live("redact_attachments"):
                done[aid] = target.outcome["redact"] = "planned"
                self.record("redact", "planned", target, request=request, edit=edit,
                            reason=self.why_planned("redact_attachments"))
                continue
            client, _ = self.sink.source.client()
            try:
                with self.sink._call(f"redacting attachment {aid}", PERMISSION_REDACT):
                    client.attachments.redact(int(self.key), cid, aid)
            except (TicketscanError, NotFound) as exc:
                self._redact_failed(target, str(exc), request=request)
                continue
            done[aid] = target.outcome["redact"] = "done"
            self.record("redact", "done", target, request=request, edit=edit)

    def _verify_after(self, targets: Sequence[Target]) -> None:
        """Re-read the ticket: a redaction Zendesk accepted must have removed the text."""
        try:
            client, _ = self.sink.source.client()
            with self.sink._call(f"reading ticket {self.key}", PERMISSION_READ):
                self.ticket = client.tickets(id=int(self.key)).to_dict()
            self.comments = self._comments()
        except (TicketscanError, NotFound) as exc:
            self.record("verify_after", "failed", reason=str(exc))
            return
        for target in targets:
            if target.outcome.get("redact") != "done":
                continue
            check = Target(target.finding, target.policy, [])
            if target.finding.location.part in (Part.ATTACHMENT, Part.ARCHIVE_MEMBER):
                self._locate_attachment(check)
            else:
                self._verify(check)
            check.secret = None
            if check.state == "present" or check.state == "unverified":
                reason = "Zendesk accepted the redaction but the text is still there"
                if check.state == "unverified":
                    reason = "Zendesk accepted the redaction but the attachment is still there"
                target.outcome["redact"] = "failed"
                self.fail(target, reason)
                self.record("verify_after", "failed", target, reason=reason)
            else:
                self.record("verify_after", "done", target, reason=f"text now {check.state}")

    def _covered(self, *, public: bool) -> set[str]:
        """Fingerprints of these findings named by a marker in an earlier (public) comment."""
        refs: set[str] = set()
        for comment in self.comments:
            if bool(comment.get("public")) != public:
                continue
            text = f"{comment.get('body') or ''}\n{comment.get('plain_body') or ''}"
            for match in _MARKER_RE.finditer(text):
                refs.update(r for r in match.group(1).split() if len(r) >= 16)
        return {
            f.fingerprint for f in self.findings if any(f.fingerprint.startswith(r) for r in refs)
        }

    def _outcome_line(self, t: Target) -> str:
        redact_state = t.outcome.get("redact")
        if redact_state == "done":
            what = "redacted"
        elif redact_state == "planned":
            what = "redaction planned"
        elif t.state == "redacted":
            what = "already redacted"
        elif "redact" in t.actions:
            what = f"not redacted ({t.reason or t.state}); please remove it by hand"
        else:
            what = "not redacted automatically (policy: notify only); please review it"
        return (f"- {t.finding.type} {t.finding.redacted} in {t.where}: {what}. "
                f"Fingerprint {t.finding.fingerprint}.")

    def _note(self, targets: Sequence[Target]) -> None:
        wanted = [t for t in targets if "internal_note" in t.actions]
        if not wanted:
            return
        noted = self._covered(public=False)
        todo: list[Target] = []
        for t in wanted:
            if t.state in ("changed", "gone"):
                self.record("internal_note", "skipped", t, reason=t.reason)
            elif t.finding.fingerprint in noted:
                self.record("internal_note", "noop", t, reason="an earlier note covers it")
            else:
                todo.append(t)
        if not todo:
            return
        lines = [
            "ticketscan found credentials in this ticket.",
            "",
            *(self._outcome_line(t) for t in todo),
            "",
            "Why: a secret pasted in a ticket is readable by every agent, integration and "
            "export with access to the ticket. Redaction removes it from Zendesk; the "
            "credential itself must still be rotated by its owner.",
            "",
            f"{MARKER} " + " ".join(sorted({t.finding.fingerprint for t in todo})),
        ]
        body = "\n".join(lines)
        self._add_comment("internal_note", todo, body, public=False, switch="internal_note")

    def _notify(self, targets: Sequence[Target]) -> None:
        wanted = [
            t for t in targets
            if "notify_reporter" in t.actions and t.state not in ("changed", "gone")
        ]
        if not wanted:
            return
        notified = self._covered(public=True)
        todo = [t for t in wanted if t.finding.fingerprint not in notified]
        for t in wanted:
            if t not in todo:
                self.record("notify_reporter", "noop", t, reason="the reporter was told before")
        if not todo:
            return
        types = ", ".join(sorted({_title(t.finding.type) for t in todo}))
        message = string.Template(self.cfg.reporter_message).substitute(
            types=types, count=str(len(todo)), ticket=self.key
        )
        refs = " ".join(sorted({t.finding.fingerprint[:16] for t in todo}))
        body = f"{message}\n\n({MARKER} {refs})"
        self._add_comment("notify_reporter", todo, body, public=True, switch="notify_reporter")

    def _add_comment(
        self, action: str, todo: Sequence[Target], body: str, *, public: bool, switch: str
    ) -> None:
        request = f"PUT /api/v2/tickets/{self.key} (comment, public={str(public).lower()})"
        covered: dict[str, Any] = {
            "findings": [t.finding.id for t in todo],
            "fingerprints": sorted({t.finding.fingerprint for t in todo}),
        }
        if not self.live(switch):
            self.record(action, "planned", request=request, body=body,
                        reason=self.why_planned(switch), **covered)
            return
        from zenpy.lib.api_objects import Comment, Ticket

        client, _ = self.sink.source.client()
        try:
            with self.sink._call(f"adding a comment to ticket {self.key}", PERMISSION_COMMENT):
                client.tickets.update(
                    Ticket(id=int(self.key), comment=Comment(body=body, public=public))
                )
        except (TicketscanError, NotFound) as exc:
            for t in todo:
                self.fail(t, str(exc))
            self.record(action, "failed", request=request, reason=str(exc), **covered)
            return
        self.record(action, "done", request=request, body=body, **covered)


def _spans(finding: Finding) -> Iterable[Span]:
    """The finding's location, then each detection's, without repeats."""
    loc = finding.location
    length = max((d.secret_length for d in finding.detections), default=0)
    seen: set[Span] = set()
    first = Span(
        loc.line,
        loc.column,
        loc.end_line or loc.line,
        loc.end_column or (loc.column + length),
    )
    for span in [first] + [
        Span(d.line, d.column, d.end_line, d.end_column) for d in finding.detections
    ]:
        if span not in seen:
            seen.add(span)
            yield span


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _title(type_name: str) -> str:
    from ticketscan.taxonomy import CANONICAL_TYPES

    info = CANONICAL_TYPES.get(type_name)
    return info.title if info else type_name

