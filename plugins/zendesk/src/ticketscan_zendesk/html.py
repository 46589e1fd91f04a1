"""Zendesk ``html_body`` → plain text that keeps line structure.

Entities are decoded (``&#x41;`` → ``A``, ``&amp;`` → ``&``), block elements and ``<br>`` become
line breaks, ``<pre>`` keeps its whitespace, and a link's ``href`` (or an image's ``src``/``alt``)
is kept after its text when it says something the text does not — a secret pasted as a link
target is still scanned. Never raises on malformed markup: ``html.parser`` is lenient and any
leftover is flushed as text.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

__all__ = ["html_to_text"]

_BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
    }
)
_CELL = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\r\f\v\n]+")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.pre_depth = 0
        self.link_stack: list[tuple[str, int]] = []

    # -- helpers
    def _text_so_far(self) -> str:
        return "".join(self.current)

    def _break(self, *, explicit: bool = False) -> None:
        """End the current line; an empty line is kept only for an explicit ``<br>``."""
        if not self.current and not explicit:
            return
        line = "".join(self.current)
        if self.pre_depth == 0:
            line = line.strip(" ")
        self.current = []
        self.lines.append(line)

    def _emit(self, text: str) -> None:
        if not text:
            return
        if self.pre_depth:
            parts = text.split("\n")
            for i, part in enumerate(parts):
                if i:
                    self.lines.append("".join(self.current))
                    self.current = []
                self.current.append(part)
            return
        collapsed = _SPACES.sub(" ", text)
        if collapsed == " " and (not self.current or self.current[-1].endswith(" ")):
            return
        if self.current and self.current[-1].endswith(" ") and collapsed.startswith(" "):
            collapsed = collapsed[1:]
        self.current.append(collapsed)

    # -- parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v for k, v in attrs if v}
        if tag == "br":
            self._break(explicit=True)
        elif tag in _BLOCK:
            self._break()
            if tag == "pre":
                self.pre_depth += 1
        elif tag in _CELL:
            if self.current and not self._text_so_far().endswith(" "):
                self.current.append("\t")
        elif tag == "a":
            self.link_stack.append((values.get("href", ""), len(self._text_so_far())))
        elif tag == "img":
            extra = " ".join(v for v in (values.get("alt"), values.get("src")) if v)
            if extra:
                self._emit(f" [{extra}] ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "img"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK:
            self._break()
            if tag == "pre" and self.pre_depth:
                self.pre_depth -= 1
        elif tag == "a" and self.link_stack:
            href, start = self.link_stack.pop()
            shown = self._text_so_far()[start:]
            if href and href not in shown and not href.startswith("#"):
                target = href[len("mailto:") :] if href.startswith("mailto:") else href
                if target not in shown:
                    self._emit(f" <{href}>")

    def handle_data(self, data: str) -> None:
        self._emit(data)

    # Comments, bogus comments (``</ 0>``), declarations and processing instructions are
    # invisible in a browser but still part of what was pasted: keep their text for scanning.
    def handle_comment(self, data: str) -> None:
        self._emit(f" {unescape(data)} ")

    def handle_decl(self, decl: str) -> None:
        self._emit(f" {unescape(decl)} ")

    def handle_pi(self, data: str) -> None:
        self._emit(f" {unescape(data)} ")

    def unknown_decl(self, data: str) -> None:
        self._emit(f" {unescape(data)} ")

    def finish(self) -> str:
        self.close()
        if self.current:
            self._break()
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        while self.lines and self.lines[0] == "":
            self.lines.pop(0)
        return "\n".join(line.rstrip() if not line.strip() else line for line in self.lines)


def html_to_text(html: str) -> str:
    """Plain text of ``html``: entities decoded, one line per block, ``<pre>`` verbatim."""
    parser = _TextParser()
    try:
        parser.feed(html)
        return parser.finish()
    except (AssertionError, ValueError):  # pragma: no cover - html.parser is lenient
        return _SPACES.sub(" ", re.sub(r"<[^>]*>", " ", html)).strip()
