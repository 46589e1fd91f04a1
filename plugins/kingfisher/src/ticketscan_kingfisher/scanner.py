"""MongoDB Kingfisher as a ticketscan scanner: ``kingfisher scan <inputs> -f json``.

Binary: ``scanners.kingfisher.binary``, else ``kingfisher`` on PATH, else the binary inside the
``kingfisher-bin`` wheel (a dependency of this plugin).

Kingfisher validates every finding against the provider's API unless told not to: that sends
the secret out of the building. This plugin passes ``--no-validate`` unless the setting
``validate = true``; then each finding's validation outcome lands in ``Finding.verified``.

Exit codes (checked against Kingfisher 2.14): 0 nothing found, 200 findings, 205 validated
findings; anything else is a failure. Kingfisher reports ``line`` 1-based and
``column_start``/``column_end`` as 0-based *byte* offsets; like gitleaks, the reported
``snippet`` is located in the text near that position and its character span reported.
The compiled rule database is cached in a private directory (mode 0700): the first run
compiles for several seconds, later ones take well under a second.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field
from ticketscan import ComponentSettings, RawFinding, ScanBatch, Scanner, Verified
from ticketscan.engines import LineIndex, find_binary, parse_version, run_engine
from ticketscan.errors import ScannerError
from ticketscan.taxonomy import KingfisherRules

__all__ = ["MIN_VERSION", "KingfisherScanner", "bundled_binary", "parse_report"]

MIN_VERSION = (1, 50, 0)
#: Kingfisher exit codes that mean "scan completed".
OK_CODES = (0, 200, 205)
INSTALL_HINT = (
    "install Kingfisher (pip install kingfisher-bin, or the release binary on PATH), "
    "or set scanners.kingfisher.binary"
)
_CONFIDENCE = {"high": 0.8, "medium": 0.65, "low": 0.45}
_VERIFIED = {"active": Verified.TRUE, "inactive": Verified.FALSE}
_versions: dict[str, tuple[int, ...] | None] = {}


def bundled_binary() -> str | None:
    """The Kingfisher binary inside the installed kingfisher-bin wheel, if any."""
    try:
        import kingfisher
    except ImportError:
        return None
    path = Path(kingfisher.__file__).parent / "bin" / "kingfisher"
    return str(path) if path.is_file() else None


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ticketscan" / "kingfisher-rules"


class KingfisherScanner(Scanner):
    """MongoDB Kingfisher CLI; live validation only when ``validate = true``."""

    name = "kingfisher"
    description = "MongoDB Kingfisher CLI (Vectorscan rules); validation opt-in"
    rule_types: ClassVar[Mapping[str, str]] = KingfisherRules()
    default_confidence: ClassVar[float] = 0.7

    class Settings(ComponentSettings):
        binary: str | None = Field(
            default=None, description="Path to kingfisher (default: PATH, then kingfisher-bin)."
        )
        validate_: bool = Field(
            default=False, alias="validate",
            description="Check each finding live against its provider (sends the secret to "
            "the provider). Off by default.",
        )
        confidence: Literal["low", "medium", "high"] = Field(
            default="medium", description="Minimum rule confidence to report (--confidence)."
        )
        rule_cache_dir: str | None = Field(
            default=None, description="Private cache of the compiled rules (default: "
            "$XDG_CACHE_HOME/ticketscan/kingfisher-rules, else the scan's work dir)."
        )
        rules_path: list[str] = Field(
            default_factory=list, description="Extra rule files/dirs (--rules-path)."
        )
        exclude_rules: list[str] = Field(
            default_factory=list, description="Rule ids to turn off (--exclude-rule)."
        )
        jobs: int = Field(default=2, ge=1, description="Scanning threads (--jobs).")

    @property
    def _settings(self) -> KingfisherScanner.Settings:
        assert isinstance(self.settings, KingfisherScanner.Settings)
        return self.settings

    def binary(self) -> str:
        return find_binary(
            self.name, self._settings.binary, names=["kingfisher"],
            fallbacks=[bundled_binary], install_hint=INSTALL_HINT,
        )

    def check(self) -> None:
        binary = self.binary()
        if binary not in _versions:
            out = run_engine(self.name, [binary, "--version"], cwd=Path.cwd())
            _versions[binary] = parse_version(out.stdout.decode("utf-8", "replace"))
        version = _versions[binary]
        if version is None or version < MIN_VERSION:
            shown = ".".join(map(str, version)) if version else "unknown"
            raise ScannerError(f"kingfisher {shown} at {binary} is too old (need >= 1.50)",
                               plugin=self.name, hint=INSTALL_HINT)

    def cache_dir(self, workdir: Path) -> Path:
        configured = self._settings.rule_cache_dir
        candidate = Path(configured).expanduser() if configured else default_cache_dir()
        try:
            candidate.mkdir(parents=True, exist_ok=True, mode=0o700)
            if candidate.stat().st_uid == os.getuid():
                candidate.chmod(0o700)
            return candidate
        except OSError:
            if configured:
                raise ScannerError(f"cannot create the rule cache {candidate}",
                                   plugin=self.name) from None
        fallback = workdir / "kingfisher-rules"
        fallback.mkdir(mode=0o700, exist_ok=True)
        return fallback

    def argv(self, binary: str, target: Path, out: Path) -> list[str]:
        settings = self._settings
        argv = [
            binary, "scan", str(target), "--no-update-check", "--format", "json",
            "--output", str(out), "--quiet", "--no-dedup", "--no-extract-archives",
            "--confidence", settings.confidence, "--jobs", str(settings.jobs),
        ]
        if not settings.validate_:
            argv.append("--no-validate")
        for path in settings.rules_path:
            argv += ["--rules-path", str(Path(path).expanduser())]
        for rule in settings.exclude_rules:
            argv += ["--exclude-rule", rule]
        return argv

    def _scan(self, batch: ScanBatch) -> Iterable[RawFinding]:
        if not batch.inputs:
            return []
        binary = self.binary()
        out = batch.workdir / "kingfisher.json"
        env = dict(os.environ)
        env["KF_RULE_CACHE_DIR"] = str(self.cache_dir(batch.workdir))
        env.pop("KINGFISHER_ALERT_REPORT_URL", None)
        run_engine(self.name, self.argv(binary, batch.root, out), cwd=batch.workdir, env=env,
                   ok_codes=OK_CODES)
        try:
            report = json.loads(out.read_bytes()) if out.is_file() else {"findings": []}
        except ValueError:
            raise ScannerError("kingfisher wrote a report that is not JSON",
                               plugin=self.name) from None
        finally:
            out.unlink(missing_ok=True)  # it holds the secrets in clear
        return list(parse_report(report, batch, validated=self._settings.validate_))


def parse_report(report: Any, batch: ScanBatch, *, validated: bool = False
                 ) -> Iterator[RawFinding]:
    """RawFindings from a Kingfisher ``-f json`` report over ``batch``'s files."""
    if not isinstance(report, dict) or not isinstance(report.get("findings", []), list):
        raise ScannerError("kingfisher report has no findings list", plugin="kingfisher")
    indexes: dict[str, LineIndex] = {}
    for item in report.get("findings", []):
        raw = _finding(item, batch, indexes, validated) if isinstance(item, dict) else None
        if raw is not None:
            yield raw


def _finding(
    item: dict[str, Any], batch: ScanBatch, indexes: dict[str, LineIndex], validated: bool
) -> RawFinding | None:
    rule = item.get("rule") if isinstance(item.get("rule"), dict) else {}
    found = item.get("finding") if isinstance(item.get("finding"), dict) else {}
    assert isinstance(rule, dict) and isinstance(found, dict)
    rule_id, secret, path = rule.get("id"), found.get("snippet"), found.get("path")
    if not (isinstance(rule_id, str) and isinstance(secret, str) and secret
            and isinstance(path, str)):
        return None
    scan_input = batch.by_path(path)
    if scan_input is None:
        return None
    index = indexes.get(scan_input.id)
    if index is None:
        index = indexes[scan_input.id] = LineIndex(scan_input.read_text())
    line = found.get("line")
    line = line if isinstance(line, int) and line >= 1 else 1
    start = found.get("column_start")
    start = start if isinstance(start, int) and start >= 0 else 0
    column0 = index.char_column(line, start)
    offset = index.find_near(secret, line, column0, end_line=line + secret.count("\n"))
    if offset is not None:
        line, column, end_line, end_column = index.span(offset, len(secret))
    else:  # decoded (base64) by Kingfisher: point at where it was found
        column, end_line, end_column = column0 + 1, line, column0 + 1 + len(secret)
    verified = Verified.UNKNOWN
    if validated:
        validation = found.get("validation") if isinstance(found.get("validation"), dict) else {}
        assert isinstance(validation, dict)
        verified = _VERIFIED.get(str(validation.get("outcome", "")).lower(), Verified.UNKNOWN)
    return RawFinding(
        document=scan_input.id, secret=secret, rule_id=rule_id, line=line, column=column,
        end_line=end_line, end_column=end_column, verified=verified,
        confidence=_CONFIDENCE.get(str(found.get("confidence", "")).lower()),
    )
