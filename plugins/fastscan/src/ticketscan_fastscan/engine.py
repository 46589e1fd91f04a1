"""The fastscan engine: one hyperscan database as a prefilter, a full regex to confirm.

How a document is scanned:

1. It is read in chunks (default 4 MiB) that overlap by ``overlap`` bytes (default 64 KiB), so
   memory stays flat whatever the document's size. A match is reported only by the chunk that
   owns its start offset, so a secret straddling a chunk boundary is found exactly once.
2. hyperscan scans the chunk once for every rule's prefilter (the rule's own regex compiled
   with ``HS_FLAG_PREFILTER``, or the cheaper ``prefilter`` regex the rule names) and for the
   rules' keywords (``HS_FLAG_SINGLEMATCH``: one event per keyword and chunk).
3. Around each hit, the rule's full regex (Python ``re``, or google-re2 for gitleaks rules)
   runs on a window snapped to line boundaries; the secret group is extracted and must pass
   the rule's entropy, format check and allowlists.

Without hyperscan the same rules run with Python ``re`` over each whole chunk (the pure-Python
path, much slower, same findings).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ticketscan.checks import shannon_entropy

from .rules import Rule, RuleProblem, RuleSet

__all__ = ["Engine", "EngineFinding", "hyperscan_available"]

log = logging.getLogger("ticketscan.fastscan")

try:
    import hyperscan as _hs
except ImportError:  # pragma: no cover - depends on the platform's wheels
    _hs = None  # type: ignore[assignment]

CHUNK_SIZE = 4 * 1024 * 1024
OVERLAP = 64 * 1024
#: How far a window may reach past a hit to the end of its line (longer lines are cut).
_LINE_REACH = 16 * 1024


def _read_full(fh: BinaryIO, n: int) -> bytes:
    """Read exactly n bytes, or fewer only at the end of the stream."""
    data = fh.read(n)
    if not data or len(data) >= n:
        return data or b""
    parts = [data]
    got = len(data)
    while got < n:
        more = fh.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def hyperscan_available() -> bool:
    return _hs is not None


@dataclass(frozen=True)
class EngineFinding:
    """One confirmed secret. Positions are 1-based; ``end_column`` is exclusive."""

    rule: Rule
    secret: str
    offset: int  # byte offset of the secret in the document
    line: int
    column: int
    end_line: int
    end_column: int

    def __repr__(self) -> str:  # never show the secret
        return f"EngineFinding(rule={self.rule.id!r}, line={self.line}, column={self.column})"


@dataclass
class _Candidate:
    rule: Rule
    start: int  # relative to the chunk, secret span
    end: int
    match_start: int
    secret: str


class Engine:
    """Compiled rules, ready to scan many documents. Not thread-safe (one scratch)."""

    def __init__(
        self,
        rules: RuleSet,
        *,
        use_hyperscan: bool | None = None,
        chunk_size: int = CHUNK_SIZE,
        overlap: int = OVERLAP,
        cache_dir: Path | None = None,
    ) -> None:
        if overlap >= chunk_size:
            raise ValueError("overlap must be smaller than the chunk size")
        self.rules = rules
        self.chunk_size = chunk_size
        self.overlap = overlap
        self.problems: list[RuleProblem] = list(rules.problems)
        want = hyperscan_available() if use_hyperscan is None else use_hyperscan
        if want and not hyperscan_available():
            raise RuntimeError("hyperscan is not installed (pip install hyperscan)")
        self.mode = "hyperscan" if want else "python"
        self.fallback_reason = (
            "" if want else (
                "hyperscan is not installed" if not hyperscan_available()
                else "the pure-Python path was requested"
            )
        )
        self._always: list[Rule] = []
        self._db: Any = None
        self._scratch: Any = None
        self._ids: list[tuple[str, Any]] = []  # hyperscan id -> ("rule", Rule) | ("kw", str)
        if self.mode == "hyperscan":
            self._compile(cache_dir)
        else:
            self._always = [r for r in rules.rules if r.py is not None or r.rx2 is not None]

    # ------------------------------------------------------------------ compile

    def _expressions(self) -> tuple[list[bytes], list[int], list[tuple[str, Any]]]:
        assert _hs is not None
        exprs: list[bytes] = []
        flags: list[int] = []
        ids: list[tuple[str, Any]] = []
        for rule in self.rules.rules:
            pattern = rule.prefilter or rule.regex
            exprs.append(pattern.encode("utf-8"))
            flags.append(_hs.HS_FLAG_PREFILTER | _hs.HS_FLAG_MULTILINE | _hs.HS_FLAG_ALLOWEMPTY)
            ids.append(("rule", rule))
        keywords = sorted({k for r in self.rules.rules for k in r.keywords if k})
        for kw in keywords:
            exprs.append("".join(f"\\x{b:02x}" for b in kw.encode("utf-8")).encode())
            flags.append(_hs.HS_FLAG_CASELESS | _hs.HS_FLAG_SINGLEMATCH)
            ids.append(("kw", kw))
        return exprs, flags, ids

    def _build(self, exprs: list[bytes], flags: list[int]) -> Any:
        assert _hs is not None
        db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs),
                   flags=flags)
        return db

    def _compile(self, cache_dir: Path | None) -> None:
        assert _hs is not None
        exprs, flags, ids = self._expressions()
        key = hashlib.sha256(
            repr((_hs.__version__ if hasattr(_hs, "__version__") else "", exprs, flags)).encode()
        ).hexdigest()[:24]
        cached = cache_dir / f"{key}.hsdb" if cache_dir else None
        if cached is not None and cached.is_file():
            try:
                self._db = _hs.loadb(cached.read_bytes(), _hs.HS_MODE_BLOCK)
            except Exception:  # stale or foreign cache: rebuild
                self._db = None
            if self._db is not None:
                self._ids = ids
                self._scratch = _hs.Scratch(self._db)
                return
        try:
            db = self._build(exprs, flags)
        except _hs.HyperscanError:
            # find the expressions hyperscan refuses; their rules run without a prefilter
            keep = []
            for i, (expr, flag) in enumerate(zip(exprs, flags, strict=True)):
                try:
                    self._build([expr], [flag])
                    keep.append(i)
                except _hs.HyperscanError as exc:
                    kind, what = ids[i]
                    if kind == "rule":
                        self._always.append(what)
                        self.problems.append(RuleProblem(
                            what.id, f"hyperscan cannot prefilter it ({exc}); it runs on every "
                            "chunk without a prefilter (slower)"))
            exprs = [exprs[i] for i in keep]
            flags = [flags[i] for i in keep]
            ids = [ids[i] for i in keep]
            db = self._build(exprs, flags) if exprs else None
        self._db = db
        self._ids = ids
        self._scratch = _hs.Scratch(db) if db is not None else None
        if cached is not None and db is not None:
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(_hs.dumpb(db))
                tmp.replace(cached)
            except OSError as exc:
                log.debug("cannot cache the hyperscan database: %s", exc)

    # ------------------------------------------------------------------ scanning

    def scan_bytes(self, data: bytes, path: str = "") -> list[EngineFinding]:
        return list(self.scan_stream(io.BytesIO(data), path))

    def scan_file(self, file: Path, path: str = "") -> list[EngineFinding]:
        with open(file, "rb") as fh:
            return list(self.scan_stream(fh, path or file.name))

    def scan_stream(self, fh: BinaryIO, path: str = "") -> Iterator[EngineFinding]:
        """Scan a binary stream in overlapping chunks; findings sorted by offset."""
        rules = [r for r in self.rules.rules if r.path is None or r.path.search(path)]
        active = {id(r) for r in rules}
        keywords_seen: set[str] = set()
        pending: list[EngineFinding] = []
        size, overlap = self.chunk_size, self.overlap
        buf = _read_full(fh, size + overlap)
        base = 0
        line_base = 0  # newlines before the chunk
        col_carry = 0  # characters between the last newline and the chunk's start
        while buf:
            nxt = _read_full(fh, size)
            owned = min(size, len(buf)) if nxt else len(buf)
            cands = self._chunk(buf, owned, active, keywords_seen, base == 0)
            pending.extend(self._locate(buf, base, cands, line_base, col_carry))
            if not nxt:
                break
            head = buf[:owned]
            line_base += head.count(b"\n")
            last = head.rfind(b"\n")
            tail = head[last + 1 :].decode("utf-8", "surrogateescape")
            col_carry = len(tail) if last >= 0 else col_carry + len(tail)
            buf = buf[owned:] + nxt
            base += owned
        pending.sort(key=lambda f: (f.offset, f.rule.id))
        for finding in pending:
            if finding.rule.keywords and not keywords_seen.intersection(finding.rule.keywords):
                continue
            if self._globally_allowed(finding.rule, finding.secret, path):
                continue
            yield finding

    def _globally_allowed(self, rule: Rule, secret: str, path: str) -> bool:
        for al in self.rules.allowlists:
            if al.target_rules and rule.id not in al.target_rules:
                continue
            if al.allows(secret, secret, secret, path):
                return True
        return False

    def _chunk(
        self, buf: bytes, owned: int, active: set[int], keywords_seen: set[str], first: bool
    ) -> list[_Candidate]:
        out: list[_Candidate] = []
        if self.mode == "python":
            low = None
            for rule in self._always:
                if id(rule) not in active:
                    continue
                for kw in rule.keywords:
                    if kw not in keywords_seen:
                        if low is None:
                            low = buf.lower()
                        if kw.encode("utf-8") in low:
                            keywords_seen.add(kw)
                regex = rule.py if rule.py is not None else rule.rx2
                self._confirm(rule, regex, buf, 0, len(buf), owned, out)
            return out
        hits: list[tuple[int, int]] = []
        if self._db is not None:
            append = hits.append

            def on_match(ident: int, _from: int, to: int, _flags: int, _ctx: Any) -> None:
                append((ident, to))

            self._db.scan(buf, match_event_handler=on_match, scratch=self._scratch)
        by_rule: dict[int, list[int]] = {}
        for ident, to in hits:
            kind, what = self._ids[ident]
            if kind == "kw":
                keywords_seen.add(what)
            elif id(what) in active:
                by_rule.setdefault(ident, []).append(to)
        n = len(buf)
        for ident, ends in by_rule.items():
            rule = self._ids[ident][1]
            regex = rule.rx2 if (rule.origin == "gitleaks" and rule.rx2 is not None) else (
                rule.py if rule.py is not None else rule.rx2
            )
            ends.sort()
            win_end = -1
            done = 0  # multi-line rules: matches never start before the last one ended
            for to in ends:
                if to <= win_end:
                    continue
                ws = max(0, to - rule.window - (64 if rule.window else 0))
                ls = buf.rfind(b"\n", max(0, ws - _LINE_REACH), ws) if ws else -1
                ws = ls + 1 if ls >= 0 else max(0, ws - _LINE_REACH)
                le = buf.find(b"\n", to, to + _LINE_REACH)
                we = le if le >= 0 else min(n, to + _LINE_REACH)
                if ws < win_end and not rule.window:  # single-line rule: only the new lines
                    ws = win_end
                elif rule.window and ws < done:
                    ws = done
                done = max(done, self._confirm(rule, regex, buf, ws, we, owned, out))
                win_end = we
        for rule in self._always:
            if id(rule) in active:
                self._confirm(rule, rule.py if rule.py is not None else rule.rx2, buf, 0, n,
                              owned, out)
        return out

    def _confirm(
        self, rule: Rule, regex: Any, buf: bytes, ws: int, we: int, owned: int,
        out: list[_Candidate],
    ) -> int:
        """Confirm matches in buf[ws:we]; returns the end of the last match (or ws)."""
        last = ws
        for m in regex.finditer(buf, ws, we):
            if m.start() >= owned:
                break
            last = m.end()
            groups = m.groups()
            g: int | str = 0
            if groups:
                g = rule.secret_group or next((i for i, v in enumerate(groups, 1) if v), 0)
            raw = m.group(g)
            if not raw:
                continue
            secret = raw.decode("utf-8", "surrogateescape")
            start, end = m.span(g)
            if not self._accept(rule, secret, m.group(0), buf, start):
                continue
            out.append(_Candidate(rule, start, end, m.start(), secret))
        return last

    @staticmethod
    def _accept(rule: Rule, secret: str, match: bytes, buf: bytes, start: int) -> bool:
        if rule.entropy is not None:
            if shannon_entropy(secret) <= rule.entropy:
                return False
            if rule.generic and not any(c.isdigit() for c in secret):
                return False
        if rule.check_fn is not None and not rule.check_fn(secret):
            return False
        if rule.allowlists:
            ls = buf.rfind(b"\n", 0, start) + 1
            le = buf.find(b"\n", start)
            line = buf[ls : le if le >= 0 else len(buf)].decode("utf-8", "surrogateescape")
            text = match.decode("utf-8", "surrogateescape")
            for al in rule.allowlists:
                if al.allows(secret, text, line, ""):
                    return False
        return True

    def _locate(
        self, buf: bytes, base: int, cands: list[_Candidate], line_base: int, col_carry: int
    ) -> Iterator[EngineFinding]:
        seen: set[tuple[str, int, int]] = set()
        cands.sort(key=lambda c: (c.start, c.end, c.rule.id))
        pos = 0
        lines = line_base
        for c in cands:
            key = (c.rule.id, c.start, c.end)
            if key in seen:
                continue
            seen.add(key)
            lines += buf.count(b"\n", pos, c.start)
            pos = c.start
            line, column = lines + 1, self._column(buf, c.start, col_carry)
            inner = buf.count(b"\n", c.start, c.end)
            end_column = (
                self._column(buf, c.end, col_carry) if inner else column + len(c.secret)
            )
            yield EngineFinding(c.rule, c.secret, base + c.start, line, column, line + inner,
                                end_column)

    @staticmethod
    def _column(buf: bytes, offset: int, col_carry: int) -> int:
        last = buf.rfind(b"\n", 0, offset)
        prefix = buf[last + 1 : offset].decode("utf-8", "surrogateescape")
        return len(prefix) + 1 + (col_carry if last < 0 else 0)
