"""A local fake Zendesk Support API, for tests that drive the real zenpy client.

FAKE, and why: no Zendesk server can run here. This one answers with the response shapes
Zendesk really returns — the templates are read at start-up from ../shared/fixtures/zendesk
(``api-recordings-zenpy``: bodies Zendesk's servers returned to zenpy's test account; the
OpenAPI spec's examples) and only ids, texts and URLs are filled in. It implements what
ticketscan uses:

* ``GET  /api/v2/tickets/{id}.json``                         → ``{"ticket": {...}}``
* ``GET  /api/v2/tickets/{id}/comments.json``                → cursor pagination
  (``page[size]``, ``page[after]``; ``meta.has_more``, ``links.next``), like the recording
* ``GET  /api/v2/attachments/{id}.json``                     → ``{"attachment": {...}}``
* ``GET  /attachments/token/{token}/?name=...``              → the file, streamed
* ``PUT  /api/v2/tickets/{t}/comments/{c}/redact.json``      → ``{"text": ...}`` redaction
* ``PUT  /api/v2/comment_redactions/{c}.json``               → Agent Workspace redaction
  (``<redact>`` tags; a tag carrying the ``redact`` attribute is removed whole)
* ``PUT  /api/v2/tickets/{t}/comments/{c}/attachments/{a}/redact.json``
* ``PUT  /api/v2/tickets/{t}/comments/{c}/make_private.json``
* ``PUT  /api/v2/tickets/{t}.json`` with ``ticket.comment``   → adds a comment (internal note)

Auth is checked like Zendesk does (Basic ``email/token:TOKEN`` or ``Bearer``); errors can be
injected per path (401/403/404/429 with Retry-After/5xx, or a delay for timeouts); every
request is recorded. Point zenpy at it with ``ZENPY_FORCE_NETLOC`` / ``ZENPY_FORCE_SCHEME``
(see :meth:`FakeZendesk.env`) or the source's ``url`` setting.

Usage::

    with FakeZendesk(email="agent@example.com", token="t0k") as fake:
        ticket = fake.add_ticket(subject="Help", description="my key is ...")
        fake.add_comment(ticket, body="private note", public=False,
                         attachments=[("logs.txt", b"...", "text/plain")])
        fake.fail("GET", r"/api/v2/tickets/\\d+\\.json", status=429, times=1, retry_after="1")
"""

from __future__ import annotations

import base64
import copy
import html
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

__all__ = ["FakeZendesk", "Injected", "Recorded", "shared_zendesk_dir"]

REDACTED_CHAR = "▇"


def shared_zendesk_dir() -> Path:
    """../shared/fixtures/zendesk beside the repository (or $TICKETSCAN_SHARED_DIR)."""
    repo = Path(__file__).resolve().parents[2]
    shared = Path(os.environ.get("TICKETSCAN_SHARED_DIR", repo.parent / "shared"))
    return shared / "fixtures" / "zendesk"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0


@dataclass
class Injected:
    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: str | None = None
    delay: float = 0.0
    body: Any = None
    hits: int = 0


@dataclass
class _Attachment:
    id: int
    file_name: str
    content: bytes
    content_type: str
    inline: bool = False
    token: str = field(default_factory=lambda: secrets.token_hex(12)[:25])
    deleted: bool = False
    malware: bool = False


class FakeZendesk:
    """The fake server. Start with ``start()`` or as a context manager; stop with ``stop()``."""

    def __init__(
        self,
        *,
        email: str | None = "agent@example.com",
        token: str | None = "fake-api-token",  # noqa: S107 - the fake's own test token
        oauth_token: str | None = None,
        shapes_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.email, self.token, self.oauth_token = email, token, oauth_token
        shapes = shapes_dir or shared_zendesk_dir()
        recordings = shapes / "api-recordings-zenpy"
        self._ticket_template = json.loads(
            (recordings / "ticket_show_sample_ticket.200.json").read_text()
        )["ticket"]
        comments = json.loads((recordings / "ticket_comments_list.200.json").read_text())
        self._comment_template = comments["comments"][0]
        self._attachment_template = self._comment_template["attachments"][0]
        self._comments_meta_template = comments["meta"]
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.attachments: dict[int, _Attachment] = {}
        self.requests: list[Recorded] = []
        self.injected: list[Injected] = []
        self._next_id = 10_000
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.netloc}"

    def env(self) -> dict[str, str]:
        """Environment that points zenpy (and a ticketscan subprocess) at this fake."""
        return {"ZENPY_FORCE_NETLOC": self.netloc, "ZENPY_FORCE_SCHEME": "http"}

    def start(self) -> FakeZendesk:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeZendesk:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ data

    def new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def add_ticket(
        self,
        *,
        subject: str = "Help needed",
        description: str = "Hello, please help.",
        description_html: str | None = None,
        custom_fields: Iterable[tuple[int, Any]] = (),
        ticket_id: int | None = None,
        attachments: Iterable[tuple[str, bytes, str]] = (),
    ) -> int:
        """A ticket whose first comment is the description (as in Zendesk)."""
        tid = ticket_id or self.new_id()
        ticket = copy.deepcopy(self._ticket_template)
        now = _now()
        fields = [{"id": fid, "value": value} for fid, value in custom_fields]
        ticket.update(
            {
                "url": f"{self.url}/api/v2/tickets/{tid}.json",
                "id": tid,
                "subject": subject,
                "raw_subject": subject,
                "description": description,
                "created_at": now,
                "updated_at": now,
                "custom_fields": fields,
                "fields": copy.deepcopy(fields),
                "tags": [],
                "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
            }
        )
        self.tickets[tid] = ticket
        self.comments[tid] = []
        self.add_comment(
            tid, body=description, html_body=description_html, public=True, attachments=attachments
        )
        return tid

    def add_comment(
        self,
        ticket_id: int,
        *,
        body: str,
        html_body: str | None = None,
        public: bool = True,
        attachments: Iterable[tuple[str, bytes, str]] = (),
        inline: Iterable[tuple[str, bytes, str]] = (),
        author_id: int = 26155588908179,
    ) -> int:
        cid = self.new_id()
        comment = copy.deepcopy(self._comment_template)
        comment.update(
            {
                "id": cid,
                "author_id": author_id,
                "body": body,
                "html_body": html_body if html_body is not None else _to_html(body),
                "plain_body": body,
                "public": public,
                "attachments": [],
                "audit_id": self.new_id(),
                "created_at": _now(),
            }
        )
        comment["metadata"]["system"]["client"] = "ticketscan-fake"
        for name, content, ctype in attachments:
            comment["attachments"].append(self._new_attachment(name, content, ctype, False))
        for name, content, ctype in inline:
            comment["attachments"].append(self._new_attachment(name, content, ctype, True))
        self.comments[ticket_id].append(comment)
        self.tickets[ticket_id]["updated_at"] = _now()
        return cid

    def _new_attachment(
        self, name: str, content: bytes, ctype: str, inline: bool
    ) -> dict[str, Any]:
        aid = self.new_id()
        stored = _Attachment(aid, name, content, ctype, inline)
        self.attachments[aid] = stored
        return self._attachment_json(stored)

    def _attachment_json(self, att: _Attachment) -> dict[str, Any]:
        data = copy.deepcopy(self._attachment_template)
        content_url = f"{self.url}/attachments/token/{att.token}/?name={quote(att.file_name)}"
        data.update(
            {
                "url": f"{self.url}/api/v2/attachments/{att.id}.json",
                "id": att.id,
                "file_name": att.file_name,
                "content_url": content_url,
                "mapped_content_url": content_url,
                "content_type": att.content_type,
                "size": len(att.content),
                "inline": att.inline,
                "deleted": att.deleted,
                "malware_scan_result": "malware_found" if att.malware else "malware_not_found",
            }
        )
        return data

    def comment(self, comment_id: int) -> dict[str, Any]:
        for comments in self.comments.values():
            for comment in comments:
                if comment["id"] == comment_id:
                    return comment
        raise KeyError(comment_id)

    def delete_ticket(self, ticket_id: int) -> None:
        self.tickets.pop(ticket_id, None)
        self.comments.pop(ticket_id, None)

    # ------------------------------------------------------------------ faults

    def fail(
        self,
        method: str,
        path_regex: str,
        *,
        status: int,
        times: int = 1,
        retry_after: str | None = None,
        delay: float = 0.0,
        body: Any = None,
    ) -> Injected:
        """Answer the next ``times`` matching requests with ``status`` (after ``delay`` s)."""
        rule = Injected(
            method.upper(), re.compile(path_regex), status, times, retry_after, delay, body
        )
        self.injected.append(rule)
        return rule

    def requests_to(self, method: str, path_regex: str) -> list[Recorded]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    # ------------------------------------------------------------------ auth

    def authorized(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        if self.oauth_token and value == f"Bearer {self.oauth_token}":
            return True
        if value.startswith("Basic ") and self.email and self.token:
            try:
                decoded = base64.b64decode(value[6:]).decode()
            except (ValueError, UnicodeDecodeError):
                return False
            return decoded == f"{self.email}/token:{self.token}"
        return False


# ---------------------------------------------------------------------------- HTTP handler


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _to_html(body: str) -> str:
    inner = ""
    for paragraph in body.split("\n\n"):
        lines = (html.escape(line, quote=False) for line in paragraph.split("\n"))
        inner += f'<p dir="auto">{"<br>".join(lines)}</p>'
    return f'<div class="zd-comment" dir="auto">{inner}</div>'


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, REDACTED_CHAR * len(secret))


_TICKET = re.compile(r"^/api/v2/tickets/(\d+)(?:\.json)?$")
_COMMENTS = re.compile(r"^/api/v2/tickets/(\d+)/comments(?:\.json)?$")
_ATTACHMENT = re.compile(r"^/api/v2/attachments/(\d+)(?:\.json)?$")
_DOWNLOAD = re.compile(r"^/attachments/token/([A-Za-z0-9]+)/?$")
_REDACT = re.compile(r"^/api/v2/tickets/(\d+)/comments/(\d+)/redact(?:\.json)?$")
_REDACT_AW = re.compile(r"^/api/v2/comment_redactions/(\d+)(?:\.json)?$")
_REDACT_ATT = re.compile(
    r"^/api/v2/tickets/(\d+)/comments/(\d+)/attachments/(\d+)/redact(?:\.json)?$"
)
_PRIVATE = re.compile(r"^/api/v2/tickets/(\d+)/comments/(\d+)/make_private(?:\.json)?$")

NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
UNAUTHORIZED = {"error": "Couldn't authenticate you"}
FORBIDDEN = {
    "error": "Forbidden",
    "description": "You do not have access to this page. Please contact the account owner of "
    "this help desk for further help.",
}


def _handler_for(fake: FakeZendesk) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeZendesk/1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        # -- plumbing
        def _send(
            self,
            status: int,
            payload: Any = None,
            *,
            headers: dict[str, str] | None = None,
            raw: bytes | None = None,
            content_type: str = "application/json; charset=utf-8",
        ) -> None:
            body = (
                raw
                if raw is not None
                else (b"" if payload is None else json.dumps(payload).encode())
            )
            self._record.status = status
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                for i in range(0, len(body), 64 * 1024):
                    self.wfile.write(body[i : i + 64 * 1024])

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            record = Recorded(self.command, parts.path, parse_qs(parts.query), headers, body)
            self._record = record
            with fake._lock:
                fake.requests.append(record)
                rule = next(
                    (
                        r
                        for r in fake.injected
                        if r.hits < r.times
                        and r.method in (self.command, "*")
                        and r.pattern.search(parts.path)
                    ),
                    None,
                )
                if rule:
                    rule.hits += 1
            if rule:
                if rule.delay:
                    time.sleep(rule.delay)
                extra = {"Retry-After": rule.retry_after} if rule.retry_after else {}
                if rule.body is not None:
                    return self._send(rule.status, rule.body, headers=extra)
                if rule.status == 404:
                    return self._send(404, NOT_FOUND)
                if rule.status == 401:
                    return self._send(401, UNAUTHORIZED)
                if rule.status == 403:
                    return self._send(403, FORBIDDEN)
                if rule.status == 429:
                    return self._send(
                        429, raw=b"Too Many Requests", headers=extra, content_type="text/plain"
                    )
                return self._send(
                    rule.status,
                    raw=b"<html><body>Service unavailable</body></html>",
                    headers=extra,
                    content_type="text/html",
                )
            if not fake.authorized(headers):
                return self._send(401, UNAUTHORIZED)
            try:
                self._route(parts.path, parse_qs(parts.query), body)
            except KeyError:
                self._send(404, NOT_FOUND)

        do_GET = do_PUT = do_POST = do_DELETE = _handle

        # -- routes
        def _route(self, path: str, query: dict[str, list[str]], body: bytes) -> None:
            cmd = self.command
            if cmd == "GET" and (m := _TICKET.match(path)):
                return self._send(200, {"ticket": fake.tickets[int(m.group(1))]})
            if cmd == "GET" and (m := _COMMENTS.match(path)):
                return self._comments(int(m.group(1)), query)
            if cmd == "GET" and (m := _ATTACHMENT.match(path)):
                return self._send(
                    200, {"attachment": fake._attachment_json(fake.attachments[int(m.group(1))])}
                )
            if cmd == "GET" and (m := _DOWNLOAD.match(path)):
                att = next(
                    a for a in fake.attachments.values() if a.token == m.group(1) and not a.deleted
                )
                return self._send(200, raw=att.content, content_type=att.content_type)
            if cmd == "PUT" and (m := _REDACT.match(path)):
                return self._redact(int(m.group(1)), int(m.group(2)), body)
            if cmd == "PUT" and (m := _REDACT_AW.match(path)):
                return self._redact_aw(int(m.group(1)), body)
            if cmd == "PUT" and (m := _REDACT_ATT.match(path)):
                return self._redact_attachment(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if cmd == "PUT" and (m := _PRIVATE.match(path)):
                comment = self._ticket_comment(int(m.group(1)), int(m.group(2)))
                comment["public"] = False
                return self._send(200, raw=b" ", content_type="text/plain")
            if cmd == "PUT" and (m := _TICKET.match(path)):
                return self._update_ticket(int(m.group(1)), body)
            raise KeyError(path)

        def _comments(self, ticket_id: int, query: dict[str, list[str]]) -> None:
            comments = fake.comments[ticket_id]
            inline = query.get("include_inline_images", ["false"])[0] == "true"
            size = int(query.get("page[size]", ["100"])[0])
            after = query.get("page[after]", [None])[0]
            start = int(base64.b64decode(after).decode()) if after else 0
            page = comments[start : start + size]
            end = start + len(page)
            shown = []
            for comment in page:
                item = copy.deepcopy(comment)
                item["attachments"] = [a for a in item["attachments"] if inline or not a["inline"]]
                shown.append(item)
            after_cursor = base64.b64encode(str(end).encode()).decode()
            before_cursor = base64.b64encode(str(start).encode()).decode()
            base = f"{fake.url}/api/v2/tickets/{ticket_id}/comments.json"
            flag = "true" if inline else "false"
            self._send(
                200,
                {
                    "comments": shown,
                    "meta": {
                        "has_more": end < len(comments),
                        "after_cursor": after_cursor,
                        "before_cursor": before_cursor,
                    },
                    "links": {
                        "prev": f"{base}?include_inline_images={flag}"
                        f"&page%5Bbefore%5D={quote(before_cursor)}&page%5Bsize%5D={size}",
                        "next": f"{base}?include_inline_images={flag}"
                        f"&page%5Bafter%5D={quote(after_cursor)}&page%5Bsize%5D={size}",
                    },
                },
            )

        def _ticket_comment(self, ticket_id: int, comment_id: int) -> dict[str, Any]:
            for comment in fake.comments[ticket_id]:
                if comment["id"] == comment_id:
                    return comment
            raise KeyError(comment_id)

        def _redact(self, ticket_id: int, comment_id: int, body: bytes) -> None:
            comment = self._ticket_comment(ticket_id, comment_id)
            text = json.loads(body or b"{}").get("text")
            if not isinstance(text, str) or not text:
                return self._send(400, {"error": "InvalidValue", "description": "text is required"})
            if text not in comment["body"]:
                return self._send(422, {"error": "RecordInvalid", "description": "text not found"})
            for key in ("body", "plain_body"):
                comment[key] = _redact(comment[key], text)
            comment["html_body"] = _redact(comment["html_body"], html.escape(text, quote=False))
            comment["html_body"] = _redact(comment["html_body"], text)
            if comment is fake.comments[ticket_id][0]:
                fake.tickets[ticket_id]["description"] = _redact(
                    fake.tickets[ticket_id]["description"], text
                )
            self._send(
                200,
                {
                    "comment": {
                        "id": comment_id,
                        "author_id": comment["author_id"],
                        "plain_body": comment["plain_body"],
                        "type": "Comment",
                    }
                },
            )

        def _redact_aw(self, comment_id: int, body: bytes) -> None:
            data = json.loads(body or b"{}")
            ticket_id = data.get("ticket_id")
            marked = data.get("html_body")
            if (
                not isinstance(ticket_id, int)
                or not isinstance(marked, str)
                or not re.search(r"<redact>| redact/?>", marked)
            ):
                return self._send(
                    400,
                    {
                        "error": "InvalidValue",
                        "description": "ticket_id and html_body with <redact> tags are required",
                    },
                )
            comment = self._ticket_comment(ticket_id, comment_id)
            targets = re.findall(r"<redact>(.*?)</redact>", marked, flags=re.S)
            # the `redact` attribute removes a whole tag (a link whose href is the secret)
            unmarked = re.sub(r" redact(?=/?>)", "", re.sub(r"</?redact>", "", marked))
            if unmarked != comment["html_body"]:
                return self._send(
                    422,
                    {
                        "error": "RecordInvalid",
                        "description": "html_body does not match the comment",
                    },
                )
            for target in targets:
                plain = html.unescape(target)
                for key in ("body", "plain_body"):
                    comment[key] = _redact(comment[key], plain)
                if comment is fake.comments[ticket_id][0]:
                    fake.tickets[ticket_id]["description"] = _redact(
                        fake.tickets[ticket_id]["description"], plain
                    )
            comment["html_body"] = re.sub(
                r"<redact>(.*?)</redact>",
                lambda m: REDACTED_CHAR * len(html.unescape(m.group(1))),
                re.sub(r"<[^<>]* redact/?>", "", marked),
                flags=re.S,
            )
            self._send(
                200,
                {
                    "comment": {
                        "id": comment_id,
                        "html_body": comment["html_body"],
                        "plain_body": comment["plain_body"],
                        "type": "Comment",
                    }
                },
            )

        def _redact_attachment(self, ticket_id: int, comment_id: int, attachment_id: int) -> None:
            comment = self._ticket_comment(ticket_id, comment_id)
            for i, item in enumerate(comment["attachments"]):
                if item["id"] == attachment_id:
                    att = fake.attachments[attachment_id]
                    att.file_name, att.content, att.content_type = "redacted.txt", b"", "text/plain"
                    comment["attachments"][i] = fake._attachment_json(att)
                    return self._send(200, {"attachment": comment["attachments"][i]})
            raise KeyError(attachment_id)

        def _update_ticket(self, ticket_id: int, body: bytes) -> None:
            data = json.loads(body or b"{}").get("ticket") or {}
            ticket = fake.tickets[ticket_id]
            new = data.get("comment")
            audit_events: list[dict[str, Any]] = []
            if isinstance(new, dict):
                text = new.get("body") or ""
                html_body = new.get("html_body")
                cid = fake.add_comment(
                    ticket_id,
                    body=text if not html_body else re.sub(r"<[^>]+>", "", html_body),
                    html_body=html_body,
                    public=bool(new.get("public", True)),
                )
                audit_events.append(
                    {"id": cid, "type": "Comment", "public": bool(new.get("public", True))}
                )
            self._send(
                200,
                {
                    "ticket": ticket,
                    "audit": {"id": fake.new_id(), "ticket_id": ticket_id, "events": audit_events},
                },
            )

    return Handler
