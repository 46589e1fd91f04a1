"""Jira rich text → plain text that keeps line structure, with a map back to the source.

Two formats:

* **ADF** (Atlassian Document Format, REST v3 / Jira Cloud): a JSON tree. Every block
  (paragraph, heading, list item, table cell, code-block line, ...) becomes its own line and a
  ``hardBreak`` starts a new line, so line N is "the Nth line a person sees in the ticket".
  Link targets (``link`` marks), card URLs, mention and status texts are included too: a
  credential in a URL (``https://user:pass@host``) is a leak as much as one in the text.
* **Wiki markup** (REST v2 / Jira Data Center): a string. Output line N is input line N;
  only markup that can never be part of a secret is removed (heading and list prefixes,
  ``{code}``/``{noformat}``/``{panel}`` tags, ``*bold*``, ``{{monospace}}``, link brackets,
  table bars). ``_``, ``-``, ``+``, ``^`` and ``~`` effects are left alone: they occur inside
  real keys (``sk_live_…``, ``-----BEGIN …``, base64).

Both return a :class:`MappedText`: the text plus, for every output character, where it came
from (a JSON pointer-like path and key into the ADF tree, or an index into the wiki string),
so remediation can find the exact source characters of a finding and edit them in place.
Neither function raises on malformed input: unknown nodes are walked generically, non-dict
children are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MappedText",
    "Origin",
    "adf_to_text",
    "replace_in_adf",
    "wiki_to_text",
]

#: Where one output character came from: (path of the JSON container, key, index in the str).
Origin = tuple[tuple[Any, ...], str, int]

_BLOCKS = {
    "paragraph", "heading", "blockquote", "codeBlock", "listItem", "taskItem", "decisionItem",
    "tableCell", "tableHeader", "panel", "expand", "nestedExpand", "rule", "mediaSingle",
    "mediaGroup", "blockCard", "embedCard", "bodiedExtension", "extension", "layoutColumn",
    "caption", "syncBlock", "bodiedSyncBlock", "blockTaskItem",
}
#: Blocks whose content is inline: each is at least one line, even when empty.
_TEXT_BLOCKS = {"paragraph", "heading", "codeBlock"}
_MAX_DEPTH = 200


@dataclass
class MappedText:
    """Plain text and, per character (newlines excluded), where it came from."""

    text: str
    origins: list[Origin | int | None] = field(default_factory=list)

    def offset(self, line: int, column: int) -> int:
        """0-based offset of a 1-based (line, column) in ``text``; ValueError if outside."""
        lines = self.text.split("\n")
        if line < 1 or line > len(lines) or column < 1 or column > len(lines[line - 1]) + 1:
            raise ValueError(f"line {line}, column {column} is outside the text")
        return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1

    def slice(self, line: int, column: int, end_line: int, end_column: int) -> tuple[int, int]:
        """0-based [start, end) offsets of a 1-based range with an exclusive end column."""
        start = self.offset(line, column)
        end = self.offset(end_line, end_column)
        if end < start:
            raise ValueError("the range ends before it starts")
        return start, end


class _Builder:
    def __init__(self) -> None:
        self.lines: list[list[tuple[str, Any]]] = [[]]

    def add(self, text: str, origin: Any) -> None:
        """Append ``text``; ``origin(i)`` names the source of its i-th character."""
        line = self.lines[-1]
        for i, ch in enumerate(text):
            if ch == "\n":
                self.lines.append([])
                line = self.lines[-1]
            else:
                line.append((ch, origin(i) if origin is not None else None))

    def separate(self) -> None:
        """A space before an inline atom glued to the previous word."""
        line = self.lines[-1]
        if line and not line[-1][0].isspace():
            line.append((" ", None))

    def newline(self) -> None:
        self.lines.append([])

    def ensure_line_start(self) -> None:
        if self.lines[-1]:
            self.lines.append([])

    def result(self) -> MappedText:
        lines = self.lines
        while len(lines) > 1 and not lines[-1]:
            lines = lines[:-1]
        text_parts: list[str] = []
        origins: list[Any] = []
        for i, line in enumerate(lines):
            if i:
                text_parts.append("\n")
                origins.append(None)
            for ch, origin in line:
                text_parts.append(ch)
                origins.append(origin)
        return MappedText("".join(text_parts), origins)


# ------------------------------------------------------------------------------------ ADF


def adf_to_text(doc: Any) -> MappedText:
    """Plain text of an ADF document (or any ADF node); never raises on odd input."""
    builder = _Builder()
    _walk(doc, (), builder, 0)
    return builder.result()


def _str_origin(path: tuple[Any, ...], key: str) -> Any:
    return lambda i: (path, key, i)


def _walk(node: Any, path: tuple[Any, ...], out: _Builder, depth: int) -> None:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return
    kind = node.get("type")
    if not isinstance(kind, str):
        kind = ""
    raw_attrs = node.get("attrs")
    attrs: dict[str, Any] = raw_attrs if isinstance(raw_attrs, dict) else {}
    if kind == "text":
        text = node.get("text")
        if isinstance(text, str):
            out.add(text, _str_origin(path, "text"))
        for m_index, mark in enumerate(_list(node.get("marks"))):
            if isinstance(mark, dict) and mark.get("type") == "link":
                mark_attrs = mark.get("attrs")
                href = mark_attrs.get("href") if isinstance(mark_attrs, dict) else None
                if isinstance(href, str) and href and href != text:
                    out.add(" ", None)
                    out.add(href, _str_origin((*path, "marks", m_index, "attrs"), "href"))
        return
    if kind == "hardBreak":
        out.newline()
        return
    block = kind in _BLOCKS
    if block:
        out.ensure_line_start()
    # inline atoms and cards carry their text in attrs
    for key in ("text", "shortName", "url", "timestamp"):
        value = attrs.get(key)
        if isinstance(value, str) and value and kind not in ("mediaSingle", "media"):
            if kind == "emoji" and key == "shortName" and isinstance(attrs.get("text"), str):
                continue
            if not block:
                out.separate()
            out.add(value, _str_origin((*path, "attrs"), key))
            break
    if kind in ("media", "mediaInline"):
        alt = attrs.get("alt")
        if isinstance(alt, str) and alt:
            out.add(alt, _str_origin((*path, "attrs"), "alt"))
    for index, child in enumerate(_list(node.get("content"))):
        if isinstance(child, dict) and child.get("type") in ("tableRow",):
            out.ensure_line_start()
        _walk(child, (*path, "content", index), out, depth + 1)
        if isinstance(child, dict) and child.get("type") in _BLOCKS:
            out.ensure_line_start()
    if kind in _TEXT_BLOCKS:
        out.newline()  # closes the line, so an empty paragraph is a blank line
    elif block:
        out.ensure_line_start()


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else ()


def _resolve(doc: Any, path: tuple[Any, ...]) -> Any:
    node = doc
    for step in path:
        node = node[step]
    return node


def replace_in_adf(doc: Any, mapped: MappedText, start: int, end: int, char: str = "*") -> int:
    """Overwrite the source characters of ``mapped.text[start:end]`` with ``char`` in ``doc``.

    Edits ``doc`` in place (text nodes, link hrefs, attrs) keeping every mark and node, so
    formatting survives. Returns how many characters were changed.
    """
    edits: dict[tuple[tuple[Any, ...], str], set[int]] = {}
    for origin in mapped.origins[start:end]:
        if isinstance(origin, tuple):
            path, key, index = origin
            edits.setdefault((path, key), set()).add(index)
    changed = 0
    for (path, key), indexes in edits.items():
        container = _resolve(doc, path)
        value = container[key]
        chars = list(value)
        for index in indexes:
            if chars[index] != char:
                chars[index] = char
                changed += 1
        container[key] = "".join(chars)
    return changed


# ----------------------------------------------------------------------------------- wiki

_BLOCK_TAG = re.compile(r"\{(?:code|noformat|quote|panel|color)(?::[^}\n]*)?\}")
_PREFORMATTED = re.compile(r"\{(code|noformat)(?::[^}\n]*)?\}")
_LINE_PREFIX = re.compile(r"^(?:h[1-6]\.\s|bq\.\s|[*#-]+\s)")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_MONO = re.compile(r"\{\{(.+?)\}\}")
_LINK = re.compile(r"\[([^\[\]\n|]*\|)?([^\[\]\n]+)\]")


def wiki_to_text(source: str) -> MappedText:
    """Plain text of Jira wiki markup; output line N is source line N."""
    if not isinstance(source, str):
        return MappedText("", [])
    keep = [True] * len(source)
    swap: dict[int, str] = {}
    in_pre: str | None = None
    pos = 0
    for line in source.split("\n"):
        start = pos
        pos += len(line) + 1
        for tag in _BLOCK_TAG.finditer(line):
            for i in range(tag.start(), tag.end()):
                keep[start + i] = False
        pre_tags = list(_PREFORMATTED.finditer(line))
        was_pre = in_pre
        for tag in pre_tags:
            name = tag.group(1)
            in_pre = None if in_pre == name else (in_pre or name)
        if was_pre or (pre_tags and in_pre):
            continue  # code and noformat content stays verbatim
        prefix = _LINE_PREFIX.match(line)
        if prefix and not line.startswith("----"):
            for i in range(prefix.end()):
                keep[start + i] = False
        for match in _BOLD.finditer(line):
            keep[start + match.start()] = False
            keep[start + match.end() - 1] = False
        for match in _MONO.finditer(line):
            for i in (0, 1):
                keep[start + match.start() + i] = False
                keep[start + match.end() - 1 - i] = False
        for match in _LINK.finditer(line):
            keep[start + match.start()] = False
            keep[start + match.end() - 1] = False
            if match.group(1):
                swap[start + match.start() + len(match.group(1))] = " "
        if line.startswith("|"):
            for i, ch in enumerate(line):
                if ch == "|" and keep[start + i]:
                    swap[start + i] = " "
    chars: list[str] = []
    origins: list[Any] = []
    for i, ch in enumerate(source):
        if not keep[i]:
            continue
        chars.append(swap.get(i, ch))
        origins.append(None if ch == "\n" else i)
    return MappedText("".join(chars), origins)


def replace_in_wiki(source: str, mapped: MappedText, start: int, end: int, char: str = "*") -> str:
    """``source`` with the source characters of ``mapped.text[start:end]`` overwritten."""
    chars = list(source)
    for origin in mapped.origins[start:end]:
        if isinstance(origin, int):
            chars[origin] = char
    return "".join(chars)


def iter_lines(mapped: MappedText) -> Iterator[str]:
    yield from mapped.text.split("\n")
