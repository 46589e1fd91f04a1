"""E-mail (``.eml``, RFC 5322 / MIME) to Documents, with the stdlib ``email`` package.

A message gives ``<path>!/headers`` (every header, decoded, one per line), one document per
text body (``!/body-1.txt``; HTML bodies become text with entities decoded, ``!/body-2.html``)
with quoted-printable and base64 undone, and its attachments, each processed like any other
file (archives, office files, nested messages...) at ``<path>!/<attachment name>``.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from .documents import decode_bytes

if TYPE_CHECKING:
    from email.message import Message

    from .attachments import _Extractor, _Node

__all__ = ["extract", "html_to_text"]


def extract(extractor: _Extractor, node: _Node, file: Path) -> None:
    if not extractor.container_allowed(node, "e-mail"):
        with file.open("rb") as handle:
            from .attachments import _chunks

            extractor.text(node, _chunks(handle), "message/rfc822")
        return
    with file.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.compat32)
    headers = list(_headers(message))
    extractor.add_lines(node.child("headers"), iter(headers), "text/plain", file)
    bodies = 0
    for index, part in enumerate(_leaves(message)):
        extractor.budget.entry()
        ctype = part.get_content_type()
        filename = part.get_filename()
        disposition = (part.get_content_disposition() or "").lower()
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        is_body = (
            ctype in ("text/plain", "text/html")
            and disposition != "attachment"
            and not filename
        )
        if is_body:
            bodies += 1
            suffix = "html" if ctype == "text/html" else "txt"
            child = node.child(f"body-{bodies}.{suffix}", media_type=ctype)
            text = _decode(payload, part.get_content_charset())
            if ctype == "text/html":
                text = html_to_text(text)
            extractor.budget.charge(len(payload))
            original = _spooled(extractor, payload)
            try:
                extractor.add_lines(child, iter(text.splitlines()), ctype, original)
            finally:
                original.unlink(missing_ok=True)
            continue
        name = filename or f"part-{index + 1}{_extension(ctype)}"
        child = node.child(name, media_type=ctype)
        if ctype == "message/rfc822" and not payload:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], email.message.Message):
                payload = inner[0].as_bytes()
        extractor.member_bytes(child, payload)


def _spooled(extractor: _Extractor, data: bytes) -> Path:
    """A temp file holding ``data`` (so add_lines can hash the original); removed later."""
    import os
    import tempfile

    fd, name = tempfile.mkstemp(prefix="body-", suffix=".bin", dir=extractor.workdir)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return Path(name)


def _leaves(message: Message) -> Iterator[Message]:
    """Non-multipart parts; a forwarded message (message/rfc822) is one leaf."""
    if message.is_multipart() and message.get_content_maintype() == "multipart":
        for sub in message.get_payload():
            if isinstance(sub, email.message.Message):
                yield from _leaves(sub)
        return
    yield message


def _headers(message: Message) -> Iterator[str]:
    from email.header import decode_header, make_header

    for key, value in message.items():
        try:
            decoded = str(make_header(decode_header(str(value))))
        except (ValueError, LookupError, UnicodeError):
            decoded = str(value)
        yield f"{key}: {' '.join(decoded.split())}"


def _decode(payload: bytes, charset: str | None) -> str:
    if charset:
        try:
            return payload.decode(charset, errors="replace")
        except LookupError:
            pass
    decoded = decode_bytes(payload)
    return decoded[0] if decoded else payload.decode("latin-1")


def _extension(ctype: str) -> str:
    import mimetypes

    return mimetypes.guess_extension(ctype) or ".bin"


_BLOCK = {
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "pre",
    "blockquote", "section", "article", "header", "footer", "ul", "ol", "hr", "title", "dt",
    "dd",
}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.out.append("\n")
        elif tag in ("td", "th"):
            self.out.append("\t")
        for name, value in attrs:
            if name in ("href", "src") and value and "://" in value:
                self.out.append(f" <{value}> ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        self.out.append(data)


def html_to_text(html: str) -> str:
    """Visible text of HTML with entities decoded and blocks on their own lines.

    Link targets (``href``/``src`` with a scheme) are kept in ``<...>``: a token in a URL is
    still a token.
    """
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # pragma: no cover - html.parser is lenient
        return html
    text = "".join(parser.out)
    lines = [" ".join(line.split()) if "\t" not in line else line.strip() for line in
             text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")

