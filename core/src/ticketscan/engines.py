"""Helpers for scanner plugins that run an external engine (gitleaks, Kingfisher, trufflehog).

An engine's output holds the secrets it found (gitleaks' JSON has ``Secret`` and ``Match``,
Kingfisher's ``snippet``, trufflehog's ``Raw``), and its stderr can echo them too. These helpers
keep that output in memory or in the scanner's private work dir, and only ever put a
*redacted* tail of stderr into an error message: nothing an engine prints reaches the logs in
clear.

::

    binary = find_binary("gitleaks", settings.binary, fallbacks=[bundled], install_hint="...")
    proc = run_engine("gitleaks", [binary, "dir", str(root), ...], cwd=batch.workdir)
    report = json.loads(proc.stdout)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import ScannerError

__all__ = [
    "EngineOutput",
    "LineIndex",
    "find_binary",
    "parse_version",
    "redact_output",
    "run_engine",
]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: Anything that could be a credential: a long run of token characters with a digit in it,
#: PEM bodies, key=value pairs. Over-masking a log line is fine; leaking is not.
_TOKENISH = re.compile(r"[A-Za-z0-9+/=_\-.~:@%]{12,}")
_KEY_VALUE = re.compile(r"(?i)((?:secret|token|password|passwd|key|match|raw)\W{0,3}[:=]\s*)\S+")


def redact_output(text: str | bytes, *, max_lines: int = 6, max_chars: int = 600) -> str:
    """A safe excerpt of an engine's stderr: ANSI stripped, token-like strings masked.

    Keeps only the last ``max_lines`` non-empty lines and at most ``max_chars`` characters.
    Masks every run of 12+ token characters that contains a digit or mixes cases (words
    like ``configuration`` stay readable), and every ``key=value``/``secret: value``.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [_ANSI.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line][-max_lines:]

    def mask(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.isalpha() and (word.islower() or word.isupper()):
            return word
        if re.fullmatch(r"[\w./-]+\.(?:go|rs|toml|json|txt|py)(?::\d+)?", word):
            return word  # a source position in a stack trace
        return "[masked]"

    out = []
    for line in lines:
        line = _KEY_VALUE.sub(lambda m: m.group(1) + "[masked]", line)
        out.append(_TOKENISH.sub(mask, line))
    joined = " | ".join(out)
    return joined[:max_chars] + ("…" if len(joined) > max_chars else "")


def parse_version(text: str) -> tuple[int, ...] | None:
    """``(8, 30, 1)`` from ``gitleaks version`` style output ("v8.30.1", "kingfisher 2.14.0")."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    return tuple(int(part) for part in match.groups(default="0"))


def find_binary(
    scanner: str,
    configured: str | None,
    *,
    names: Sequence[str],
    fallbacks: Iterable[Callable[[], str | None]] = (),
    install_hint: str,
) -> str:
    """The engine's executable: the configured path, else PATH, else each fallback in turn.

    A configured path that does not exist is an error (never silently replaced by another
    binary); nothing found anywhere is a ``ScannerError`` naming how to install it.
    """
    if configured:
        path = Path(configured).expanduser()
        resolved = shutil.which(str(path)) if not path.is_absolute() else None
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        if resolved:
            return resolved
        raise ScannerError(
            f"the configured binary {configured!r} does not exist or is not executable",
            plugin=scanner,
            hint=f"fix scanners.{scanner}.binary, or remove it to use PATH; {install_hint}",
        )
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    for fallback in fallbacks:
        try:
            found = fallback()
        except Exception:  # a broken optional package is the same as a missing one
            found = None
        if found and Path(found).is_file():
            return found
    raise ScannerError(f"{names[0]} is not installed", plugin=scanner, hint=install_hint)


@dataclass
class EngineOutput:
    returncode: int
    stdout: bytes
    stderr: bytes


def run_engine(
    scanner: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    ok_codes: Iterable[int] = (0,),
    stdin: bytes | None = None,
) -> EngineOutput:
    """Run an engine; a non-OK exit raises ``ScannerError`` with a redacted stderr excerpt.

    Timeouts are the caller's (core kills the scanner's whole process group), so this waits.
    stdout is returned as bytes and never logged.
    """
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise ScannerError(f"cannot run {argv[0]!r}: not found", plugin=scanner) from None
    except PermissionError:
        raise ScannerError(f"cannot run {argv[0]!r}: not executable", plugin=scanner) from None
    if proc.returncode not in set(ok_codes):
        if proc.returncode < 0:
            import signal

            why = f"was killed by {signal.Signals(-proc.returncode).name}"
        else:
            why = f"exited with code {proc.returncode}"
        excerpt = redact_output(proc.stderr) or "no message on stderr"
        raise ScannerError(f"{Path(argv[0]).name} {why}: {excerpt}", plugin=scanner)
    return EngineOutput(proc.returncode, proc.stdout, proc.stderr)


class LineIndex:
    """Maps engine positions (byte or character offsets per line) to 1-based line/columns.

    Engines report columns in bytes (gitleaks, Kingfisher) while findings use characters;
    this converts, and finds a reported secret near where the engine said it was.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        for match in re.finditer("\n", text):
            self.starts.append(match.end())

    def line_text(self, line: int) -> str:
        if not 1 <= line <= len(self.starts):
            return ""
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        return self.text[start:end]

    def char_column(self, line: int, byte_offset: int) -> int:
        """0-based character column of a 0-based byte offset within ``line``."""
        raw = self.line_text(line).encode("utf-8", "surrogateescape")
        byte_offset = max(0, min(byte_offset, len(raw)))
        return len(raw[:byte_offset].decode("utf-8", "surrogateescape"))

    def offset(self, line: int, column0: int) -> int:
        """Absolute character offset of a 0-based column in ``line``."""
        line = max(1, min(line, len(self.starts)))
        return self.starts[line - 1] + column0

    def position(self, offset: int) -> tuple[int, int]:
        """(1-based line, 1-based column) of an absolute character offset."""
        import bisect

        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def find_near(self, secret: str, line: int, column0: int, *, end_line: int | None = None
                  ) -> int | None:
        """Offset of ``secret`` closest to (line, column0), searching lines line-1..end_line+1."""
        if not secret:
            return None
        expected = self.offset(line, column0)
        if self.text.startswith(secret, expected):
            return expected
        lo = self.starts[max(0, min(line, len(self.starts)) - 2)]
        last = min(len(self.starts), (end_line or line) + 2)
        hi = self.starts[last] if last < len(self.starts) else len(self.text)
        best: int | None = None
        pos = self.text.find(secret, lo, hi + len(secret))
        while pos != -1:
            if best is None or abs(pos - expected) < abs(best - expected):
                best = pos
            pos = self.text.find(secret, pos + 1, hi + len(secret))
        return best

    def span(self, start: int, length: int) -> tuple[int, int, int, int]:
        """(line, column, end_line, end_column exclusive) of ``length`` chars at ``start``."""
        line, column = self.position(start)
        end_line, end_column = self.position(start + length)
        if end_column == 1 and end_line > line:  # ends right at a newline
            end_line -= 1
            end_column = len(self.line_text(end_line)) + 1
        return line, column, end_line, end_column
