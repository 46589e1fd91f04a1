"""Ticket-aware decoded views: what a secret looks like before the ticket system mangled it.

People paste secrets into tickets in ways code repositories rarely show: HTML-entity-encoded
by Zendesk, JSON-escaped in exported payloads, percent-encoded inside URLs, base64-encoded in
mail parts, behind e-mail quote markers (``> > ``) and split by soft wraps. For each document,
:func:`add_decoded_views` writes one extra text file per decoding that changes something
(``<docid>~html``, ``~json``, ``~url``, ``~b64``, ``~quote``, ``~wrap``), registers it as a
scan input, and registers a mapper that turns a finding in the view back into one in the
document, at the ORIGINAL line and column (the encoded text). Merge then deduplicates the
same secret found at the same place in the document and in its views.
"""

from __future__ import annotations

import base64
import binascii
import html
import multiprocessing
import os
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from .components import ScanInput
from .models import Manifest, RawFinding
from .parallel import balanced_shards, file_size

if TYPE_CHECKING:
    from .views import ViewSet

__all__ = [
    "CONTEXT_LINES",
    "DECODERS",
    "MAX_DECODE_CHARS",
    "OffsetMap",
    "View",
    "add_decoded_views",
    "decoded_views",
]

#: Documents larger than this are scanned as they are, without decoded views.
MAX_DECODE_CHARS = 16 * 1024 * 1024

#: a replacement: (text, start, end) pieces relative to the match, or a plain string
Replacement = str | list[tuple[str, int, int]] | None


@dataclass
class OffsetMap:
    """Maps offsets in a view back to offsets in its source text.

    Segments start at ``new[i]``: a linear segment is copied text (offset + delta); a
    replaced segment maps every position to the source span ``[orig[i], orig_end[i])``.
    """

    new: list[int] = field(default_factory=list)
    orig: list[int] = field(default_factory=list)
    orig_end: list[int] = field(default_factory=list)
    linear: list[bool] = field(default_factory=list)

    def start(self, n: int) -> int:
        i = max(0, bisect_right(self.new, n) - 1)
        return self.orig[i] + (n - self.new[i]) if self.linear[i] else self.orig[i]

    def end(self, n: int) -> int:
        """Source offset of an exclusive end ``n`` (> 0)."""
        i = max(0, bisect_right(self.new, max(0, n - 1)) - 1)
        return self.orig[i] + (n - self.new[i]) if self.linear[i] else self.orig_end[i]


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.map = OffsetMap()

    def copy(self, text: str, start: int, end: int) -> None:
        if end <= start:
            return
        m = self.map
        if m.linear and m.linear[-1] and m.orig[-1] + (self.length - m.new[-1]) == start:
            pass  # continues the previous linear segment
        else:
            m.new.append(self.length)
            m.orig.append(start)
            m.orig_end.append(end)
            m.linear.append(True)
        self.parts.append(text[start:end])
        self.length += end - start

    def emit(self, piece: str, start: int, end: int) -> None:
        if not piece:
            return
        m = self.map
        m.new.append(self.length)
        m.orig.append(start)
        m.orig_end.append(end)
        m.linear.append(False)
        self.parts.append(piece)
        self.length += len(piece)

    def text(self) -> str:
        return "".join(self.parts)


def _rewrite(
    text: str, pattern: re.Pattern[str], replace: Callable[[re.Match[str]], Replacement]
) -> tuple[str, OffsetMap] | None:
    """Apply ``replace`` to every match; None if nothing changed."""
    out = _Builder()
    pos = 0
    changed = False
    for m in pattern.finditer(text):
        rep = replace(m)
        if rep is None or rep == m.group(0):
            continue
        changed = True
        out.copy(text, pos, m.start())
        if isinstance(rep, str):
            out.emit(rep, m.start(), m.end())
            if not rep:  # a deletion: keep the map continuous
                pass
        else:
            for piece, a, b in rep:
                out.emit(piece, m.start() + a, m.start() + b)
        pos = m.end()
    if not changed:
        return None
    out.copy(text, pos, len(text))
    if not out.map.new:
        out.map.new.append(0)
        out.map.orig.append(len(text))
        out.map.orig_end.append(len(text))
        out.map.linear.append(True)
    return out.text(), out.map


# --------------------------------------------------------------------------------------------
# decoders: text -> (view text, map) or None


_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _html(text: str) -> tuple[str, OffsetMap] | None:
    def rep(m: re.Match[str]) -> Replacement:
        value = html.unescape(m.group(0))
        return None if value == m.group(0) or (not value.isprintable() and value != "\n") else value

    return _rewrite(text, _ENTITY, rep)


_JSON_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{4}|[\\/\"bfnrt])")
_JSON_SIMPLE = {"\\": "\\", "/": "/", '"': '"', "b": "\b", "f": "\f", "n": "\n", "r": "\r",
                "t": "\t"}


def _json(text: str) -> tuple[str, OffsetMap] | None:
    if "\\" not in text:
        return None

    def rep(m: re.Match[str]) -> Replacement:
        s = m.group(0)
        if s[1] == "u":
            ch = chr(int(s[2:], 16))
            return ch if ch.isprintable() or ch in "\n\t" else None
        return _JSON_SIMPLE[s[1]]

    return _rewrite(text, _JSON_ESCAPE, rep)


_PERCENT = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _url(text: str) -> tuple[str, OffsetMap] | None:
    if "%" not in text:
        return None

    def rep(m: re.Match[str]) -> Replacement:
        raw = bytes.fromhex(m.group(0).replace("%", ""))
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if not value.isprintable():
            return None
        # one piece per encoded character: positions stay precise inside a URL
        pieces, pos = [], 0
        for ch in value:
            width = 3 * len(ch.encode("utf-8"))
            pieces.append((ch, pos, pos + width))
            pos += width
        return pieces

    return _rewrite(text, _PERCENT, rep)


# single-line blobs, and MIME bodies: consecutive lines of base64
_B64 = re.compile(
    r"(?<![A-Za-z0-9+/=_-])(?:[A-Za-z0-9+/]{4}){6,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
    r"(?:\r?\n(?:[A-Za-z0-9+/]{4}){10,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)*"
    r"(?![A-Za-z0-9+/=_-])"
)


def _printable_text(value: str) -> bool:
    if not value:
        return False
    good = sum(ch.isprintable() or ch in "\r\n\t" for ch in value)
    return good >= 0.97 * len(value) and "\x00" not in value


def _b64(text: str) -> tuple[str, OffsetMap] | None:
    def rep(m: re.Match[str]) -> Replacement:
        blob = m.group(0)
        multiline = "\n" in blob
        compact = blob.replace("\r", "").replace("\n", "") if multiline else blob
        try:  # most candidates (hashes, ids) are not base64 of text: fail fast, before mapping
            raw = base64.b64decode(compact, validate=True)
            value = raw.decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
        if len(value) < 8 or not _printable_text(value):
            return None
        if len(raw) != len(value):  # multi-byte text: map the whole blob
            return [(value, 0, len(blob))]
        positions = (
            [i for i, ch in enumerate(blob) if ch not in "\r\n"] if multiline
            else range(len(blob))
        )
        pieces = []
        for k in range(0, len(value), 3):  # 3 bytes come from 4 base64 characters
            a = positions[(k // 3) * 4]
            last = min(len(positions) - 1, (k // 3) * 4 + 3)
            pieces.append((value[k : k + 3], a, positions[last] + 1))
        return pieces

    return _rewrite(text, _B64, rep)


_QUOTE = re.compile(r"(?m)^[ \t]*>(?:[ \t]*>)*[ \t]?")


def _quote(text: str) -> tuple[str, OffsetMap] | None:
    if ">" not in text:
        return None
    return _rewrite(text, _QUOTE, lambda m: "")


_QP_SOFT = re.compile(r"=\r?\n")
_QP_HEX = re.compile(r"=([0-9A-F]{2})")
_NEWLINE = re.compile(r"\r?\n")
#: a line this long that ends inside a token was probably wrapped by a mail client or editor
WRAP_MIN_LINE = 50
#: the two halves of a wrapped token, together at least this long
WRAP_MIN_TOKEN = 16
_TOKEN_END = re.compile(r"[A-Za-z0-9+/=_.~:@%-]{3,}$")
_TOKEN_START = re.compile(r"[A-Za-z0-9+/=_.~%-]{3,}")


WRAP_MAX_LINE = 80
_QP_ESCAPE = re.compile(r"=[0-9A-F]{2}")


def _qp_soft_break(m: re.Match[str]) -> Replacement:
    """A quoted-printable soft line break: '=' ending a line of prose or of QP escapes.

    The line must hold a space or a QP escape: a base64 line (a PEM body's last line) ends in
    '=' padding too, but never holds either.
    """
    text = m.string
    start = text.rfind("\n", 0, m.start()) + 1
    line = text[start : m.start()].strip()
    if not (" " in line or "\t" in line or _QP_ESCAPE.search(line)):
        return None
    return ""


def _looks_hard_wrapped(text: str) -> bool:
    """Most long lines end near a wrap width (mail clients wrap at 72-78 columns)."""
    long_lines = [n for n in map(len, text.split("\n")) if n >= WRAP_MIN_LINE]
    if len(long_lines) < 2:
        return False
    wrapped = sum(n <= WRAP_MAX_LINE for n in long_lines)
    return wrapped >= 0.9 * len(long_lines)


def _wrap(text: str) -> tuple[str, OffsetMap] | None:
    """Undo quoted-printable soft line breaks, and soft wraps that split a long token."""
    if _QP_SOFT.search(text):
        step = _rewrite(text, _QP_SOFT, _qp_soft_break)
        if step is None:
            return None
        soft, first = step
        hexed = _rewrite(soft, _QP_HEX, lambda m: (chr(int(m.group(1), 16))
                                                    if 0x20 <= int(m.group(1), 16) < 0x7F
                                                    else None))
        if hexed is None:
            return soft, first
        return hexed[0], _Composed(hexed[1], first)
    if not _looks_hard_wrapped(text):
        return None

    def rep(m: re.Match[str]) -> Replacement:
        start = text.rfind("\n", 0, m.start()) + 1
        line = text[start : m.start()]
        end = _TOKEN_END.search(line)
        if not WRAP_MIN_LINE <= len(line) <= WRAP_MAX_LINE or not end:
            return None
        if not re.search(r"\s", line.strip()):
            return None  # no words on the line: a key body or a blob, not wrapped prose
        if "-----" in line:  # PEM armour lines are not wrapped tokens
            return None
        begin = _TOKEN_START.match(text, m.end())
        if not begin or len(end.group(0)) + len(begin.group(0)) < WRAP_MIN_TOKEN:
            return None
        return ""

    return _rewrite(text, _NEWLINE, rep)


class _Composed(OffsetMap):
    """outer maps view -> intermediate, inner maps intermediate -> source."""

    def __init__(self, outer: OffsetMap, inner: OffsetMap) -> None:
        super().__init__()
        self.outer = outer
        self.inner = inner

    def start(self, n: int) -> int:
        return self.inner.start(self.outer.start(n))

    def end(self, n: int) -> int:
        return self.inner.end(self.outer.end(n))


def _quote_then_wrap(text: str) -> tuple[str, OffsetMap] | None:
    quoted = _quote(text)
    if quoted is None:
        return None
    unwrapped = _wrap(quoted[0])
    if unwrapped is None:
        return None
    return unwrapped[0], _Composed(unwrapped[1], quoted[1])


#: name -> decoder, in the order views are made
DECODERS: dict[str, Callable[[str], tuple[str, OffsetMap] | None]] = {
    "html": _html,
    "json": _json,
    "url": _url,
    "b64": _b64,
    "quote": _quote,
    "wrap": _wrap,
    "quote-wrap": _quote_then_wrap,
}


@dataclass
class View:
    """A decoded view: ``text`` is what scanners read (lines far from any decoded place are
    emptied), ``full`` the whole decoded text that ``map`` maps back to the source."""

    name: str
    text: str
    map: OffsetMap
    full: str = ""

    def __post_init__(self) -> None:
        if not self.full:
            self.full = self.text


#: Lines of a view kept around each decoded place; the rest is blanked (spaces keep offsets).
CONTEXT_LINES = 3


def _changed_offsets(omap: OffsetMap) -> list[int]:
    """View offsets where the view differs from its source (decoded pieces, deletions)."""
    out: list[int] = []
    for i, start in enumerate(omap.new):
        if not omap.linear[i]:
            out.append(start)
        elif i > 0:  # a linear segment after a jump: something was deleted just before
            out.append(max(0, start - 1))
            out.append(start)
    return out


def _focus(view_text: str, omap: OffsetMap) -> str:
    """Empty the lines far from any decoded place, so scanners see only what decoding made.

    Line breaks stay, so every kept line keeps its line number and columns (the map works on
    the full view text); unchanged text is not scanned twice, nor even read again.
    """
    changed = _changed_offsets(omap)
    if not changed:
        return view_text
    n = len(view_text)
    rfind, find = view_text.rfind, view_text.find
    spans: list[list[int]] = []  # kept [a, b) offset spans, whole lines, merged
    for offset in sorted(set(changed)):
        if spans and offset < spans[-1][1]:
            continue
        a = offset
        for _ in range(CONTEXT_LINES + 1):
            a = rfind("\n", 0, a) if a > 0 else -1
            if a < 0:
                break
        a = a + 1 if a >= 0 else 0
        b = offset
        for _ in range(CONTEXT_LINES + 1):
            b = find("\n", b) + 1 if b < n else 0
            if b <= 0:
                b = n
                break
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    parts: list[str] = []
    pos = 0
    for a, b in spans:
        parts.append(_blank(view_text[pos:a]))
        parts.append(view_text[a:b])
        pos = b
    parts.append(_blank(view_text[pos:]))
    return "".join(parts)


def _blank(text: str) -> str:
    """The same number of lines, all empty."""
    return "\n" * text.count("\n")


def decoded_views(
    text: str, names: Iterable[str] | None = None, *, focus: bool = True
) -> list[View]:
    """Every decoded view of ``text`` that differs from it (and from the other views).

    With ``focus`` (the default), lines more than :data:`CONTEXT_LINES` away from anything
    decoding changed are blanked: they are in the document itself already.
    """
    views: list[View] = []
    seen = {text}
    for name in names or DECODERS:
        result = DECODERS[name](text)
        if result is None or result[0] in seen:
            continue
        seen.add(result[0])
        view_text = _focus(result[0], result[1]) if focus else result[0]
        views.append(View(name, view_text, result[1], result[0]))
    return views


# --------------------------------------------------------------------------------------------
# positions


def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    pos = find("\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = find("\n", pos + 1)
    return starts


def _offset(starts: list[int], length: int, line: int, column: int) -> int:
    line = min(max(1, line), len(starts))
    return min(length, starts[line - 1] + max(1, column) - 1)


def _position(starts: list[int], offset: int) -> tuple[int, int]:
    i = bisect_right(starts, offset) - 1
    return i + 1, offset - starts[i] + 1


def make_mapper(
    doc_id: str, source: str, view: View
) -> Callable[[RawFinding], RawFinding | None]:
    """A mapper from findings in ``view`` to findings in the document ``doc_id``."""
    src_starts = _line_starts(source)
    view_starts = _line_starts(view.full)
    vlen, slen = len(view.full), len(source)

    def mapper(raw: RawFinding) -> RawFinding | None:
        a = _offset(view_starts, vlen, raw.line, raw.column)
        b = _offset(view_starts, vlen, raw.end_line, raw.end_column)
        b = max(b, a + 1)
        oa = min(slen, view.map.start(a))
        ob = min(slen, max(oa + 1, view.map.end(b)))
        line, column = _position(src_starts, oa)
        end_line, end_column = _position(src_starts, ob)
        return RawFinding(
            document=doc_id,
            secret=raw.secret,
            rule_id=raw.rule_id,
            line=line,
            column=column,
            end_line=end_line,
            end_column=end_column,
            type=raw.type,
            confidence=raw.confidence,
            verified=raw.verified,
        )

    return mapper


def add_decoded_views(
    views: ViewSet, manifest: Manifest, docs_dir: Path, workdir: Path, *, workers: int = 0
) -> None:
    """Add a decoded view (scan input + mapper) for each decoding that changes a document.

    Documents are decoded in ``workers`` forked processes (0: one per CPU) when there is
    enough text to pay for it; each writes its views' files and reports their names only.
    """
    jobs = [(doc.id, str(docs_dir / doc.text_path)) for doc in manifest.documents]
    sizes = [file_size(Path(path)) for _, path in jobs]
    workers = workers or os.cpu_count() or 1
    root = str(views.root)
    if workers > 1 and len(jobs) > 1 and sum(sizes) >= _PARALLEL_MIN_BYTES:
        shards = balanced_shards(jobs, sizes, workers * 4)
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            made = [v for part in pool.map(_decode_shard, [(root, s) for s in shards])
                    for v in part]
    else:
        made = _decode_shard((root, jobs))
    for view_id, target, doc_id, source, name in sorted(made):
        views.inputs.append(ScanInput(view_id, Path(target)))
        views.mappers[view_id] = _LazyMapper(doc_id, Path(source), name)


#: Below this much text, forking decoders costs more than it saves.
_PARALLEL_MIN_BYTES = 4 * 1024 * 1024


def _decode_shard(job: tuple[str, list[tuple[str, str]]]) -> list[tuple[str, str, str, str, str]]:
    """Decode some documents, write their views; (view id, view file, doc id, source, name)."""
    root, docs = Path(job[0]), job[1]
    out = []
    for doc_id, source in docs:
        path = Path(source)
        try:
            if path.stat().st_size > MAX_DECODE_CHARS:
                continue
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            continue
        for view in decoded_views(text):
            view_id = f"{doc_id}~{view.name}"
            target = root / f"{view_id}.txt"
            target.write_text(view.text, encoding="utf-8", errors="surrogateescape", newline="")
            out.append((view_id, str(target), doc_id, source, view.name))
    return out


class _LazyMapper:
    """Maps findings in one view back to its document, decoding again on first use.

    Holding every document's text and offset map until the scanners finish would cost memory
    in proportion to the corpus; findings in views are few, so decoding one document twice is
    the cheaper trade. The last few documents' mappers are cached.
    """

    _cache: ClassVar[dict[tuple[str, str], Callable[[RawFinding], RawFinding | None]]] = {}
    _CACHE_SIZE = 8

    def __init__(self, doc_id: str, source: Path, view_name: str) -> None:
        self.doc_id = doc_id
        self.source = source
        self.view_name = view_name

    def __call__(self, raw: RawFinding) -> RawFinding | None:
        key = (str(self.source), self.view_name)
        mapper = self._cache.get(key)
        if mapper is None:
            text = self.source.read_text(encoding="utf-8", errors="surrogateescape")
            result = DECODERS[self.view_name](text)
            if result is None:  # the document changed under us: nothing to map to
                return None
            mapper = make_mapper(self.doc_id, text, View(self.view_name, "", result[1],
                                                         result[0]))
            if len(self._cache) >= self._CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = mapper
        return mapper(raw)
