"""trufflehog v3 as a ticketscan scanner: ``trufflehog filesystem <inputs> --json``.

Binary: ``scanners.trufflehog.binary``, else ``trufflehog`` on PATH (the container image ships
the official release). Live verification sends each secret to its provider, so it is off
(``--no-verification``) unless ``verify = true``; then trufflehog's ``Verified`` lands in
``Finding.verified``.

Output: one JSON object per line. The fields used are ``SourceMetadata.Data.Filesystem.file``
and ``.line``, ``DetectorName``, ``DecoderName``, ``Verified``, ``Raw`` and ``RawV2``. Older
trufflehog versions (2022) wrote ``Raw`` base64-encoded; both forms are accepted. trufflehog
reports no column, so the secret is looked up on the reported line.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import Field
from ticketscan import ComponentSettings, RawFinding, ScanBatch, Scanner, Verified
from ticketscan.engines import LineIndex, find_binary, parse_version, run_engine
from ticketscan.errors import ScannerError
from ticketscan.taxonomy import TRUFFLEHOG_DETECTORS

__all__ = ["Record", "TrufflehogScanner", "parse_line", "parse_output"]

MIN_VERSION = (3, 0, 0)
#: 0: done; 183: findings and --fail was given.
OK_CODES = (0, 183)
INSTALL_HINT = (
    "install the trufflehog v3 release binary on PATH (the ticketscan container image has it), "
    "or set scanners.trufflehog.binary"
)
_versions: dict[str, tuple[int, ...] | None] = {}


@dataclass(frozen=True)
class Record:
    """One trufflehog result, as parsed (the secret is in ``candidates``, in clear)."""

    detector: str
    file: str | None
    line: int | None
    verified: bool
    #: the secret as trufflehog gave it: Raw, its base64 decoding (old format), RawV2
    candidates: tuple[str, ...]
    decoder: str | None = None
    #: Raw was base64 (trufflehog before ~3.20): the decoded secret
    raw_decoded: str | None = None


def _b64(value: str) -> str | None:
    if len(value) < 8 or len(value) % 4:
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded if decoded.isprintable() or "\n" in decoded else None


def parse_line(line: str | bytes) -> Record | None:
    """A Record from one line of ``trufflehog --json`` output; None for non-result lines.

    Raises ``ValueError`` for a line that is not JSON (trufflehog's own log lines go to
    stderr, so stdout should hold results only).
    """
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    if not text.strip():
        return None
    obj = json.loads(text)
    if not isinstance(obj, dict) or "DetectorName" not in obj:
        return None
    detector = obj.get("DetectorName")
    raw = obj.get("Raw")
    if not isinstance(detector, str) or not isinstance(raw, str) or not raw:
        return None
    candidates = [raw]
    decoded = _b64(raw)
    if decoded:
        candidates.append(decoded)
    raw_v2 = obj.get("RawV2")
    if isinstance(raw_v2, str) and raw_v2 and raw_v2 not in candidates:
        candidates.append(raw_v2)
    file: str | None = None
    lineno: int | None = None
    meta = obj.get("SourceMetadata")
    data = meta.get("Data") if isinstance(meta, dict) else None
    if isinstance(data, dict):
        fs = data.get("Filesystem")
        if isinstance(fs, dict):
            file = fs.get("file") if isinstance(fs.get("file"), str) else None
            lineno = fs.get("line") if isinstance(fs.get("line"), int) else None
        else:
            for source in data.values():
                if isinstance(source, dict) and isinstance(source.get("line"), int):
                    lineno = source["line"]
                    file = source.get("file") if isinstance(source.get("file"), str) else None
    decoder = obj.get("DecoderName") if isinstance(obj.get("DecoderName"), str) else None
    return Record(
        detector=detector, file=file, line=lineno, verified=obj.get("Verified") is True,
        candidates=tuple(candidates), decoder=decoder, raw_decoded=decoded,
    )


def parse_output(stdout: bytes | str) -> Iterator[Record]:
    text = stdout.decode("utf-8", "replace") if isinstance(stdout, bytes) else stdout
    for number, line in enumerate(text.splitlines(), 1):
        try:
            record = parse_line(line)
        except ValueError:
            raise ScannerError(f"trufflehog output line {number} is not JSON",
                               plugin="trufflehog") from None
        if record is not None:
            yield record


class TrufflehogScanner(Scanner):
    """trufflehog v3 CLI (filesystem mode); verification only when ``verify = true``."""

    name = "trufflehog"
    description = "trufflehog v3 CLI (filesystem, --json); verification opt-in"
    rule_types: ClassVar[Mapping[str, str]] = TRUFFLEHOG_DETECTORS
    default_confidence: ClassVar[float] = 0.7

    class Settings(ComponentSettings):
        binary: str | None = Field(default=None, description="Path to trufflehog (default: PATH).")
        verify: bool = Field(
            default=False, description="Verify each secret live with its provider (sends the "
            "secret to the provider). Off by default: --no-verification."
        )
        include_detectors: list[str] = Field(
            default_factory=list, description="Only these detectors (--include-detectors)."
        )
        exclude_detectors: list[str] = Field(
            default_factory=list, description="Turn these detectors off (--exclude-detectors)."
        )

    @property
    def _settings(self) -> TrufflehogScanner.Settings:
        assert isinstance(self.settings, TrufflehogScanner.Settings)
        return self.settings

    def binary(self) -> str:
        return find_binary(self.name, self._settings.binary, names=["trufflehog"],
                           install_hint=INSTALL_HINT)

    def check(self) -> None:
        binary = self.binary()
        if binary not in _versions:
            out = run_engine(self.name, [binary, "--version"], cwd=Path.cwd())
            text = (out.stdout + out.stderr).decode("utf-8", "replace")
            _versions[binary] = parse_version(text)
        version = _versions[binary]
        if version is None or version < MIN_VERSION:
            shown = ".".join(map(str, version)) if version else "unknown"
            raise ScannerError(f"trufflehog {shown} at {binary} is not v3", plugin=self.name,
                               hint=INSTALL_HINT)

    def argv(self, binary: str, target: Path) -> list[str]:
        settings = self._settings
        argv = [binary, "filesystem", str(target), "--json", "--no-update"]
        if not settings.verify:
            argv.append("--no-verification")
        if settings.include_detectors:
            argv.append("--include-detectors=" + ",".join(settings.include_detectors))
        if settings.exclude_detectors:
            argv.append("--exclude-detectors=" + ",".join(settings.exclude_detectors))
        return argv

    def _scan(self, batch: ScanBatch) -> Iterable[RawFinding]:
        if not batch.inputs:
            return []
        binary = self.binary()
        out = run_engine(self.name, self.argv(binary, batch.root), cwd=batch.workdir,
                         env=dict(os.environ), ok_codes=OK_CODES)
        verify = self._settings.verify
        return [
            raw for record in parse_output(out.stdout)
            if (raw := to_raw(record, batch, verify=verify)) is not None
        ]


def to_raw(record: Record, batch: ScanBatch, *, verify: bool = False) -> RawFinding | None:
    """Place a Record in its scan input: the first candidate found on (or near) its line."""
    if record.file is None:
        return None
    scan_input = batch.by_path(record.file)
    if scan_input is None:
        return None
    index = LineIndex(scan_input.read_text())
    line = record.line if record.line and record.line >= 1 else 1
    verified = (Verified.TRUE if record.verified else Verified.FALSE) if verify else (
        Verified.UNKNOWN
    )
    for candidate in record.candidates:
        offset = index.find_near(candidate, line, 0, end_line=line + candidate.count("\n"))
        if offset is None and not record.line:
            offset = index.text.find(candidate)
            offset = None if offset < 0 else offset
        if offset is not None:
            start, column, end_line, end_column = index.span(offset, len(candidate))
            return RawFinding(document=scan_input.id, secret=candidate,
                              rule_id=record.detector, line=start, column=column,
                              end_line=end_line, end_column=end_column, verified=verified)
    # decoded by trufflehog (base64, escaped unicode): the whole reported line
    secret = record.raw_decoded or record.candidates[0]
    width = max(1, len(index.line_text(line)))
    return RawFinding(document=scan_input.id, secret=secret, rule_id=record.detector,
                      line=line, column=1, end_line=line, end_column=width + 1,
                      verified=verified)

