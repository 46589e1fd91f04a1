"""Pure helpers for remediation: find a finding's text again, and mark it for redaction.

Nothing here keeps, logs or returns a secret beyond the caller's own memory: :func:`candidate`
cuts a span out of text the caller re-read from Zendesk, :func:`mark_html` wraps the spans to
redact in ``<redact>`` tags for Zendesk's Agent Workspace redaction call.

Positions follow the scanners' convention (see ``ticketscan.engines.LineIndex``): lines are split
on ``\\n`` only, lines and columns are 1-based, columns count characters, ``end_column`` is
exclusive.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "REDACTED_CHAR",
    "Marked",
    "Span",
    "candidate",
    "is_redacted",
    "mark_html",
    "span_offsets",
    "unmark",
]

#: What Zendesk puts in place of every redacted character.
REDACTED_CHAR = "▇"

# A tag with quoted attribute values (a '>' inside quotes does not end it), or a comment.
_TAG = re.compile(r"<!--.*?-->|<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.S)


@dataclass(frozen=True)
class Span:
    """A 1-based position range as findings carry it (``end_column`` exclusive)."""

    line: int
    column: int
    end_line: int
    end_column: int

    def describe(self) -> str:
        if self.end_line == self.line:
            return f"line {self.line}, columns {self.column}-{self.end_column - 1}"
        return f"line {self.line} column {self.column} to line {self.end_line} column " + str(
            self.end_column - 1
        )


def _line_starts(text: str) -> list[int]:
    starts = [0]
    pos = text.find("\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = text.find("\n", pos + 1)
    return starts


def span_offsets(text: str, span: Span) -> tuple[int, int] | None:
    """Character offsets ``[start, end)`` of ``span`` in ``text``; None if it lies outside."""
    starts = _line_starts(text)
    if not (1 <= span.line <= len(starts) and 1 <= span.end_line <= len(starts)):
        return None

    def line_end(n: int) -> int:
        return starts[n] - 1 if n < len(starts) else len(text)

    start = starts[span.line - 1] + span.column - 1
    end = starts[span.end_line - 1] + span.end_column - 1
    if span.column < 1 or span.end_column < 1 or start > line_end(span.line):
        return None
    if end > line_end(span.end_line) or end <= start:
        return None
    return start, end


def candidate(text: str, span: Span) -> str | None:
    """The text at ``span`` (what a finding's ``secret_sha256`` is checked against)."""
    offsets = span_offsets(text, span)
    return None if offsets is None else text[offsets[0] : offsets[1]]


def is_redacted(value: str) -> bool:
    """True if ``value`` is what Zendesk leaves after redacting: only ▇ (and whitespace)."""
    stripped = "".join(value.split())
    return bool(stripped) and set(stripped) == {REDACTED_CHAR}


def _char_pattern(char: str) -> str:
    """A regex matching ``char`` as HTML may spell it: literally or as any character reference."""
    code = ord(char)
    forms = [re.escape(char), f"&#0*{code};", f"&#[xX]0*{code:x};"]
    if code > 9:
        forms.append(f"&#[xX]0*{code:X};")
    named = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos", "\xa0": "nbsp"}
    if char in named:
        forms.append(f"&{named[char]};")
    return "(?:" + "|".join(forms) + ")"


def _secret_pattern(secret: str) -> re.Pattern[str]:
    return re.compile("".join(_char_pattern(c) for c in secret))


@dataclass(frozen=True)
class Marked:
    """``html`` with ``<redact>`` tags (and ``redact`` attributes), and what was marked."""

    html: str
    in_text: int
    in_tags: int

    @property
    def count(self) -> int:
        return self.in_text + self.in_tags


def mark_html(source: str, secrets: Sequence[str]) -> Marked:
    """Wrap every occurrence of each secret in ``source`` for Zendesk's redaction call.

    An occurrence in text (literal or written with character references, e.g. ``&#x41;``) gets
    ``<redact>…</redact>`` around it; an occurrence inside a tag (a link's ``href``, an image's
    ``src``) cannot be wrapped, so that tag gets Zendesk's ``redact`` attribute, which removes
    the whole element. Removing the tags and attributes again gives ``source`` back unchanged.
    """
    patterns = [_secret_pattern(s) for s in sorted(set(secrets), key=len, reverse=True) if s]
    out: list[str] = []
    in_text = in_tags = 0
    pos = 0
    for tag in _TAG.finditer(source):
        chunk, n = _mark_text(source[pos : tag.start()], patterns)
        out.append(chunk)
        in_text += n
        raw = tag.group(0)
        if not raw.startswith(("<!--", "</")) and any(p.search(raw) for p in patterns):
            end = len(raw) - (2 if raw.endswith("/>") else 1)
            raw = raw[:end] + " redact" + raw[end:]
            in_tags += 1
        elif raw.startswith("<!--"):
            # an HTML comment is text nobody sees but is still stored: mark inside it
            inner, n = _mark_text(raw[4:-3], patterns)
            raw, in_text = f"<!--{inner}-->", in_text + n
        out.append(raw)
        pos = tag.end()
    chunk, n = _mark_text(source[pos:], patterns)
    out.append(chunk)
    in_text += n
    return Marked("".join(out), in_text, in_tags)


def _mark_text(text: str, patterns: Sequence[re.Pattern[str]]) -> tuple[str, int]:
    if not text or not patterns:
        return text, 0
    found: list[tuple[int, int]] = []
    for pattern in patterns:
        for match in pattern.finditer(text):
            if match.end() > match.start() and not any(
                match.start() < e and s < match.end() for s, e in found
            ):
                found.append((match.start(), match.end()))
    if not found:
        return text, 0
    out, last = [], 0
    for start, end in sorted(found):
        out.append(text[last:start])
        out.append(f"<redact>{text[start:end]}</redact>")
        last = end
    out.append(text[last:])
    return "".join(out), len(found)


def unmark(marked: str) -> str:
    """``marked`` without the ``<redact>`` tags and ``redact`` attributes (for checks)."""
    text = re.sub(r"</?redact>", "", marked)
    return re.sub(r" redact(?=/?>)", "", text)
