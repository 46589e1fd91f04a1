"""A local fake Jira (Cloud REST v3 / Data Center REST v2) for tests and benchmarks.

FAKE, and why: no Jira can run on this machine (it is proprietary and needs a licence), so
tests talk to this server instead. Every response is built from the real response shapes in
``../shared/fixtures/jira`` (Atlassian's OpenAPI examples for v3, atlassian-python-api's
recorded v2 responses) with only the values we plant changed, and pagination follows the
OpenAPI spec (``startAt``/``maxResults``/``total``; changelog pages with ``isLast``). Clients
reach it through their real HTTP stack: point atlassian-python-api at ``fake.url``.

Usage::

    with FakeJira(fixtures_dir, flavor="cloud") as jira:
        jira.add_issue("SEC-42", summary="...", description="text or ADF dict")
        cid = jira.add_comment("SEC-42", "a comment")
        aid = jira.add_attachment("SEC-42", "app.env", b"KEY=...")
        jira.fail("GET", r"/comment", 429, times=2, retry_after=0)
        ...
        jira.requests  # every request received: method, path, query, headers, body

Flavors: ``cloud`` (Basic auth email:token, /rest/api/3, ADF bodies, attachment downloads
answered with a 303 redirect to a media URL, like Jira Cloud) and ``server`` (Bearer personal
access token, /rest/api/2, wiki-markup strings, downloads from /secure/attachment/ID/NAME).

Writes, for remediation tests: PUT issue fields, PUT/POST/DELETE comments, DELETE attachments,
and Jira Service Management's ``POST /rest/servicedeskapi/request/KEY/comment``.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

__all__ = ["FAKE_SECRETS", "FakeJira", "Recorded", "text_to_adf"]

#: Fake secrets to plant in tickets (random, structurally valid, never real).
FAKE_SECRETS = {
    "aws-1": "AKIAQ7ZRT4MWXB3LNPEK",
    "aws-2": "AKIAV2HDJ6Y3KQ5TLR7M",
    "aws-3": "AKIAL4NWX7C2RZPB6QJD",
    "aws-4": "AKIAT5MQW3XZ7RBN2KPD",
    "aws-5": "AKIAJ3RZX6N2WQ7PLKT4",
    "github-pat": "ghp_R8mZt2Lq9XvB4nKc7WpJ3sYd6HfG1aQe5UoT",
}

DEFAULT_EMAIL = "scanner@example.com"
DEFAULT_TOKEN = "fake-jira-token-0000"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: str | None
    delay: float = 0.0


@dataclass
class _Issue:
    id: str
    key: str
    fields: dict[str, Any]
    comments: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    histories: list[dict[str, Any]] = field(default_factory=list)


def text_to_adf(text: str) -> dict[str, Any]:
    """An ADF document with one paragraph per line (empty lines: empty paragraphs)."""
    content = []
    for line in text.split("\n"):
        para: dict[str, Any] = {"type": "paragraph", "content": []}
        if line:
            para["content"].append({"type": "text", "text": line})
        content.append(para)
    return {"type": "doc", "version": 1, "content": content}


class FakeJira:
    """A threaded HTTP server speaking enough of Jira's REST API for ticketscan."""

    def __init__(
        self,
        fixtures_dir: Path,
        *,
        flavor: str = "cloud",
        email: str = DEFAULT_EMAIL,
        token: str = DEFAULT_TOKEN,
        max_page: int = 50,
    ) -> None:
        if flavor not in ("cloud", "server"):
            raise ValueError("flavor must be 'cloud' or 'server'")
        self.flavor = flavor
        self.api = "3" if flavor == "cloud" else "2"
        self.email = email
        self.token = token
        self.max_page = max_page
        self.requests: list[Recorded] = []
        self.issues: dict[str, _Issue] = {}
        self.attachments: dict[str, dict[str, Any]] = {}
        self.jsm_comments: list[dict[str, Any]] = []
        self._blobs: dict[str, bytes] = {}
        self._failures: list[_Failure] = []
        self._next_id = 10000
        self._lock = threading.Lock()
        self._templates = self._load_templates(fixtures_dir / "jira")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------- lifecycle

    def start(self) -> FakeJira:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeJira:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self, **extra: Any) -> dict[str, Any]:
        """A ``[sources.jira]`` section for this fake (token by env reference JIRA_TOKEN)."""
        section: dict[str, Any] = {"url": self.url, "flavor": self.flavor,
                                   "token": {"env": "JIRA_TOKEN"}, "backoff": 0.0}
        if self.flavor == "cloud":
            section["email"] = self.email
        return {**section, **extra}

    # ------------------------------------------------------------------------ content

    def _id(self) -> str:
        with self._lock:
            self._next_id += 1
            return str(self._next_id)

    def _rich(self, text: str | dict[str, Any] | None) -> Any:
        if text is None or isinstance(text, dict):
            return text
        return text_to_adf(text) if self.flavor == "cloud" else text

    def add_issue(
        self,
        key: str,
        *,
        summary: str = "Customer cannot log in",
        description: str | dict[str, Any] | None = None,
        environment: str | dict[str, Any] | None = None,
        custom: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add an issue; strings become ADF (cloud) or stay wiki text (server)."""
        issue_id = self._id()
        fields: dict[str, Any] = {
            "summary": summary,
            "description": self._rich(description),
            "environment": self._rich(environment),
            "project": {"key": key.rsplit("-", 1)[0], "id": "10000",
                        "name": key.rsplit("-", 1)[0]},
        }
        for name, value in (custom or {}).items():
            fields[name] = self._rich(value) if isinstance(value, str) else value
        self.issues[key] = _Issue(id=issue_id, key=key, fields=fields)
        return self.issue_json(key, None)

    def remove_issue(self, key: str) -> None:
        self.issues.pop(key, None)

    def add_comment(
        self,
        key: str,
        body: str | dict[str, Any],
        *,
        visibility: dict[str, str] | None = None,
        jsd_public: bool | None = None,
    ) -> str:
        issue = self.issues[key]
        comment = copy.deepcopy(self._templates["comment"])
        comment_id = self._id()
        comment.update(
            id=comment_id,
            self=f"{self.url}/rest/api/{self.api}/issue/{issue.id}/comment/{comment_id}",
            body=self._rich(body),
        )
        comment.pop("visibility", None)
        comment.pop("renderedBody", None)
        if visibility:
            comment["visibility"] = dict(visibility)
        if jsd_public is not None:
            comment["jsdPublic"] = jsd_public
        issue.comments.append(comment)
        return comment_id

    def remove_comment(self, key: str, comment_id: str) -> None:
        issue = self.issues[key]
        issue.comments = [c for c in issue.comments if c["id"] != comment_id]

    def add_attachment(self, key: str, filename: str, content: bytes,
                       mime: str = "text/plain", *, size: int | None = None) -> str:
        """Attach bytes; ``size`` overrides the reported size (to test lying metadata)."""
        issue = self.issues[key]
        meta = copy.deepcopy(self._templates["attachment"])
        attachment_id = self._id()
        if self.flavor == "cloud":
            content_url = f"{self.url}/rest/api/3/attachment/content/{attachment_id}"
        else:
            content_url = f"{self.url}/secure/attachment/{attachment_id}/{quote(filename, safe='')}"
        meta.update(
            id=attachment_id if self.flavor == "server" else int(attachment_id),
            filename=filename, mimeType=mime, size=len(content) if size is None else size,
            content=content_url,
            self=f"{self.url}/rest/api/{self.api}/attachment/{attachment_id}",
        )
        meta.pop("thumbnail", None)
        self.attachments[attachment_id] = meta
        self._blobs[attachment_id] = content
        issue.attachments.append(attachment_id)
        return attachment_id

    def remove_attachment(self, attachment_id: str) -> None:
        self.attachments.pop(attachment_id, None)
        self._blobs.pop(attachment_id, None)
        for issue in self.issues.values():
            if attachment_id in issue.attachments:
                issue.attachments.remove(attachment_id)

    def add_history(self, key: str, field_id: str, old: str, new: str) -> str:
        """A changelog entry changing ``field_id`` from ``old`` to ``new`` (texts)."""
        issue = self.issues[key]
        history = copy.deepcopy(self._templates["history"])
        history_id = self._id()
        item = {"field": field_id, "fieldtype": "jira", "fieldId": field_id, "from": None,
                "fromString": old, "to": None, "toString": new}
        if self.flavor == "server":
            item.pop("fieldId")
        history.update(id=history_id, items=[item])
        issue.histories.append(history)
        return history_id

    def fail(self, method: str, path_regex: str, status: int, *, times: int = 1,
             retry_after: float | str | None = None, delay: float = 0.0) -> None:
        """The next ``times`` requests matching answer ``status`` (after ``delay`` seconds)."""
        self._failures.append(
            _Failure(method.upper(), re.compile(path_regex), status, times,
                     None if retry_after is None else str(retry_after), delay)
        )

    def comment(self, key: str, comment_id: str) -> dict[str, Any]:
        return next(c for c in self.issues[key].comments if c["id"] == comment_id)

    def requests_to(self, pattern: str, method: str | None = None) -> list[Recorded]:
        rx = re.compile(pattern)
        return [r for r in self.requests
                if rx.search(r.path) and (method is None or r.method == method)]

    # ------------------------------------------------------------------------ shapes

    def _load_templates(self, root: Path) -> dict[str, Any]:
        def load(rel: str) -> Any:
            return json.loads((root / rel).read_text(encoding="utf-8"))

        if self.flavor == "cloud":
            issue = load("rest-v3/openapi-examples/getIssue.200.json")
            comment = load("rest-v3/openapi-examples/getComment.200.json")
            attachment = load("rest-v3/openapi-examples/getAttachment.200.json")
        else:
            issue = load("rest-v2/atlassian-python-api_issue-FOO-123_fields-all.json")
            comment = load("rest-v2/atlassian-python-api_comment-10000.json")
            attachment = load("rest-v3/openapi-examples/getAttachment.200.json")
            attachment["self"] = attachment["self"].replace("/3/", "/2/")
        changelog = load("rest-v3/openapi-examples/getChangeLogs.200.json")
        comments_page = load(
            "rest-v3/openapi-examples/getComments.200.json" if self.flavor == "cloud"
            else "rest-v2/atlassian-python-api_issue-comments.json"
        )
        return {
            "issue": issue, "comment": comment, "attachment": attachment,
            "history": changelog["values"][0], "changelog": changelog,
            "comments_page": comments_page,
        }

    def issue_json(self, key: str, wanted: list[str] | None,
                   expand: str | None = None) -> dict[str, Any]:
        issue = self.issues[key]
        body = copy.deepcopy(self._templates["issue"])
        body.pop("renderedFields", None)
        body.update(id=issue.id, key=key,
                    self=f"{self.url}/rest/api/{self.api}/issue/{issue.id}")
        fields = dict(body.get("fields", {}))
        fields.update(copy.deepcopy(issue.fields))
        fields["attachment"] = [copy.deepcopy(self.attachments[a]) for a in issue.attachments]
        if "comment" in fields:
            fields["comment"] = {"comments": copy.deepcopy(issue.comments),
                                 "maxResults": len(issue.comments),
                                 "total": len(issue.comments), "startAt": 0}
        if wanted and "*all" not in wanted:
            fields = {k: v for k, v in fields.items() if k in wanted}
        body["fields"] = fields
        if expand and "changelog" in expand:
            body["changelog"] = {"startAt": 0, "maxResults": len(issue.histories),
                                 "total": len(issue.histories),
                                 "histories": copy.deepcopy(issue.histories)}
        return body


class _Handler(BaseHTTPRequestHandler):
    fake: FakeJira
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # ------------------------------------------------------------------------ plumbing

    def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
               raw: bytes | None = None, content_type: str = "application/json;charset=UTF-8"
               ) -> None:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._reply(status, {"errorMessages": [message], "errors": {}}, headers)

    def _authorized(self) -> bool:
        fake = self.fake
        auth = self.headers.get("Authorization", "")
        if fake.flavor == "cloud":
            expected = "Basic " + base64.b64encode(
                f"{fake.email}:{fake.token}".encode()).decode()
        else:
            expected = f"Bearer {fake.token}"
        return auth == expected

    def _handle(self) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake.requests.append(Recorded(self.command, parts.path, parse_qs(parts.query),
                                      dict(self.headers.items()), body))
        for failure in list(fake._failures):
            if failure.method == self.command and failure.pattern.search(parts.path):
                failure.times -= 1
                if failure.times <= 0:
                    fake._failures.remove(failure)
                if failure.delay:
                    time.sleep(failure.delay)
                headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
                if failure.status == 401:
                    # Jira answers 401 with a plain-text body
                    self._reply(401, raw=b"Client must be authenticated to access this resource.",
                                content_type="text/plain;charset=UTF-8")
                    return
                self._error(failure.status, f"injected HTTP {failure.status}", headers)
                return
        if parts.path.startswith("/fake-media/"):
            self._media(parts.path.rsplit("/", 1)[-1])
            return
        if not self._authorized():
            self._reply(401, raw=b"Client must be authenticated to access this resource.",
                        content_type="text/plain;charset=UTF-8")
            return
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            self._error(400, "body is not JSON")
            return
        self._route(parts.path, parse_qs(parts.query), payload)

    do_GET = _handle
    do_PUT = _handle
    do_POST = _handle
    do_DELETE = _handle

    # ------------------------------------------------------------------------ routes

    def _route(self, path: str, query: dict[str, list[str]], payload: Any) -> None:
        fake = self.fake
        api = rf"/rest/api/{fake.api}"
        routes: list[tuple[str, str, Any]] = [
            ("GET", rf"^{api}/issue/([^/]+)$", self._get_issue),
            ("PUT", rf"^{api}/issue/([^/]+)$", self._put_issue),
            ("GET", rf"^{api}/issue/([^/]+)/comment$", self._get_comments),
            ("POST", rf"^{api}/issue/([^/]+)/comment$", self._post_comment),
            ("GET", rf"^{api}/issue/([^/]+)/comment/(\d+)$", self._get_comment),
            ("PUT", rf"^{api}/issue/([^/]+)/comment/(\d+)$", self._put_comment),
            ("DELETE", rf"^{api}/issue/([^/]+)/comment/(\d+)$", self._delete_comment),
            ("GET", rf"^{api}/issue/([^/]+)/changelog$", self._get_changelog),
            ("GET", rf"^{api}/attachment/(\d+)$", self._get_attachment),
            ("DELETE", rf"^{api}/attachment/(\d+)$", self._delete_attachment),
            ("GET", rf"^{api}/attachment/content/(\d+)$", self._get_content),
            ("GET", r"^/secure/attachment/(\d+)/[^/]+$", self._get_content),
            ("POST", r"^/rest/servicedeskapi/request/([^/]+)/comment$", self._post_jsm_comment),
        ]
        for method, pattern, handler in routes:
            match = re.match(pattern, path)
            if match and method == self.command:
                handler(*match.groups(), query=query, payload=payload)
                return
        self._error(404, f"no route for {self.command} {path}")

    def _issue(self, key: str) -> _Issue | None:
        fake = self.fake
        issue = fake.issues.get(key) or next(
            (i for i in fake.issues.values() if i.id == key), None)
        if issue is None:
            self._error(404, "Issue does not exist or you do not have permission to see it.")
        return issue

    def _get_issue(self, key: str, *, query: dict[str, list[str]], payload: Any) -> None:
        issue = self._issue(key)
        if issue is None:
            return
        wanted = None
        if "fields" in query:
            wanted = [f for v in query["fields"] for f in v.split(",") if f]
        expand = ",".join(query.get("expand", [])) or None
        self._reply(200, self.fake.issue_json(issue.key, wanted, expand))

    def _put_issue(self, key: str, *, query: dict[str, list[str]], payload: Any) -> None:
        issue = self._issue(key)
        if issue is None:
            return
        if not isinstance(payload, dict) or not isinstance(payload.get("fields"), dict):
            self._error(400, "expected {'fields': {...}}")
            return
        for name, value in payload["fields"].items():
            issue.fields[name] = value
        self._reply(204)

    def _page(self, query: dict[str, list[str]]) -> tuple[int, int]:
        try:
            start = int(query.get("startAt", ["0"])[0])
            size = int(query.get("maxResults", [str(self.fake.max_page)])[0])
        except ValueError:
            return 0, self.fake.max_page
        return max(0, start), max(1, min(size, self.fake.max_page))

    def _get_comments(self, key: str, *, query: dict[str, list[str]], payload: Any) -> None:
        issue = self._issue(key)
        if issue is None:
            return
        start, size = self._page(query)
        page = copy.deepcopy(self.fake._templates["comments_page"])
        page.update(startAt=start, maxResults=size, total=len(issue.comments),
                    comments=copy.deepcopy(issue.comments[start:start + size]))
        self._reply(200, page)

    def _find_comment(self, key: str, comment_id: str) -> dict[str, Any] | None:
        issue = self._issue(key)
        if issue is None:
            return None
        comment = next((c for c in issue.comments if c["id"] == comment_id), None)
        if comment is None:
            self._error(404, "Can not find a comment for the id: " + comment_id)
        return comment

    def _get_comment(self, key: str, comment_id: str, *, query: dict[str, list[str]],
                     payload: Any) -> None:
        comment = self._find_comment(key, comment_id)
        if comment is not None:
            self._reply(200, comment)

    def _put_comment(self, key: str, comment_id: str, *, query: dict[str, list[str]],
                     payload: Any) -> None:
        comment = self._find_comment(key, comment_id)
        if comment is None:
            return
        if not isinstance(payload, dict):
            self._error(400, "expected a JSON object")
            return
        if "body" in payload:
            comment["body"] = payload["body"]
        if "visibility" in payload:
            comment["visibility"] = payload["visibility"]
        self._reply(200, comment)

    def _post_comment(self, key: str, *, query: dict[str, list[str]], payload: Any) -> None:
        if self._issue(key) is None:
            return
        if not isinstance(payload, dict) or "body" not in payload:
            self._error(400, "Comment body can not be empty!")
            return
        comment_id = self.fake.add_comment(key, payload["body"],
                                           visibility=payload.get("visibility"))
        self._reply(201, self.fake.comment(key, comment_id))

    def _delete_comment(self, key: str, comment_id: str, *, query: dict[str, list[str]],
                        payload: Any) -> None:
        if self._find_comment(key, comment_id) is not None:
            self.fake.remove_comment(key, comment_id)
            self._reply(204)

    def _get_changelog(self, key: str, *, query: dict[str, list[str]], payload: Any) -> None:
        issue = self._issue(key)
        if issue is None:
            return
        start, size = self._page(query)
        values = issue.histories[start:start + size]
        page = copy.deepcopy(self.fake._templates["changelog"])
        base = f"{self.fake.url}/rest/api/{self.fake.api}/issue/{key}/changelog"
        is_last = start + len(values) >= len(issue.histories)
        page.update(startAt=start, maxResults=size, total=len(issue.histories), isLast=is_last,
                    values=copy.deepcopy(values),
                    self=f"{base}?startAt={start}&maxResults={size}")
        if is_last:
            page.pop("nextPage", None)
        else:
            page["nextPage"] = f"{base}?startAt={start + size}&maxResults={size}"
        self._reply(200, page)

    def _get_attachment(self, attachment_id: str, *, query: dict[str, list[str]],
                        payload: Any) -> None:
        meta = self.fake.attachments.get(attachment_id)
        if meta is None:
            self._error(404, f"The attachment with id '{attachment_id}' does not exist")
            return
        self._reply(200, meta)

    def _delete_attachment(self, attachment_id: str, *, query: dict[str, list[str]],
                           payload: Any) -> None:
        if attachment_id not in self.fake.attachments:
            self._error(404, f"The attachment with id '{attachment_id}' does not exist")
            return
        self.fake.remove_attachment(attachment_id)
        self._reply(204)

    def _get_content(self, attachment_id: str, *, query: dict[str, list[str]],
                     payload: Any) -> None:
        fake = self.fake
        if attachment_id not in fake._blobs:
            self._error(404, f"The attachment with id '{attachment_id}' does not exist")
            return
        if fake.flavor == "cloud":
            # Jira Cloud redirects downloads to its media service with a short-lived token
            self._reply(303, raw=b"", headers={
                "Location": f"{fake.url}/fake-media/{attachment_id}?token=short-lived"})
            return
        self._media(attachment_id)

    def _media(self, attachment_id: str) -> None:
        data = self.fake._blobs.get(attachment_id)
        if data is None:
            self._error(404, "media not found")
            return
        meta = self.fake.attachments[attachment_id]
        self.send_response(200)
        self.send_header("Content-Type", meta.get("mimeType") or "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        view = memoryview(data)
        for offset in range(0, len(data), 64 * 1024):
            self.wfile.write(view[offset:offset + 64 * 1024])

    def _post_jsm_comment(self, key: str, *, query: dict[str, list[str]], payload: Any) -> None:
        issue = self._issue(key)
        if issue is None:
            return
        if not isinstance(payload, dict) or not isinstance(payload.get("body"), str):
            self._error(400, "body must be a string")
            return
        record = {"key": key, "body": payload["body"], "public": payload.get("public", True)}
        self.fake.jsm_comments.append(record)
        self._reply(201, {"id": self.fake._id(), "body": payload["body"],
                          "public": record["public"]})
