"""Built-in sinks: ``jsonl`` (append to a findings log), ``sarif`` (a SARIF file), ``stdout``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from ticketscan.components import ComponentSettings, PublishContext, Sink
from ticketscan.models import Finding, SinkReport
from ticketscan.sarif import write_sarif

__all__ = ["JsonlSink", "SarifSink", "StdoutSink"]


def _resolve(path: str, context: PublishContext) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else context.out_dir / candidate


class JsonlSink(Sink):
    """Appends findings to a JSON-lines log; a finding already in the file is not written again."""

    name = "jsonl"
    description = "append findings to a JSON-lines file"
    batchable = False  # one file / one table of everything

    class Settings(ComponentSettings):
        path: str = Field(
            default="ticketscan-findings.jsonl",
            description="File to append to; relative paths are under the step's --out folder.",
        )

    def _publish(
        self, findings: Sequence[Finding], context: PublishContext, report: SinkReport
    ) -> None:
        settings = self.settings
        assert isinstance(settings, JsonlSink.Settings)
        path = _resolve(settings.path, context)
        path.parent.mkdir(parents=True, exist_ok=True)
        present: set[str] = set()
        if path.is_file():
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        present.add(json.loads(line)["id"])
                    except (ValueError, KeyError, TypeError):
                        continue
        if context.dry_run:
            return
        with path.open("a", encoding="utf-8") as fh:
            for finding in findings:
                if finding.id in present:
                    report.suppressed.append(finding.id)
                    continue
                fh.write(finding.model_dump_json(exclude_none=True) + "\n")
                report.delivered.append(finding.id)


class SarifSink(Sink):
    """Writes the findings as a SARIF 2.1.0 file (GitHub code scanning, DefectDojo)."""

    name = "sarif"
    description = "write findings as SARIF 2.1.0"
    batchable = False  # one file / one table of everything

    class Settings(ComponentSettings):
        path: str = Field(default="ticketscan-findings.sarif", description="Output file.")

    def _publish(
        self, findings: Sequence[Finding], context: PublishContext, report: SinkReport
    ) -> None:
        settings = self.settings
        assert isinstance(settings, SarifSink.Settings)
        if not context.dry_run:
            write_sarif(_resolve(settings.path, context), findings)


class StdoutSink(Sink):
    """Prints a readable, redacted table: rich on a terminal, plain lines otherwise."""

    name = "stdout"
    description = "print a redacted table of findings"
    batchable = False  # one file / one table of everything

    class Settings(ComponentSettings):
        color: bool | None = Field(default=None, description="Force colour on or off.")

    def _publish(
        self, findings: Sequence[Finding], context: PublishContext, report: SinkReport
    ) -> None:
        print_findings(findings, color=getattr(self.settings, "color", None))


def print_findings(findings: Sequence[Finding], *, color: bool | None = None) -> None:
    out = sys.stdout
    if not findings:
        out.write("No secrets found.\n")
        return
    if out.isatty() or color:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(findings)} secret(s) found", title_justify="left")
        for column in ("severity", "type", "secret", "where", "line", "engines", "conf"):
            table.add_column(column)
        for f in findings:
            table.add_row(
                f.severity.value,
                f.type,
                f.redacted,
                f"{f.ticket.key} {f.location.path}",
                f"{f.location.line}:{f.location.column}",
                ",".join(f.scanners),
                f"{f.confidence:.2f}",
            )
        Console(file=out, force_terminal=bool(color) or None).print(table)
        return
    out.write(f"{len(findings)} secret(s) found\n")
    for f in findings:
        out.write(
            f"{f.severity.value:8} {f.type:28} {f.redacted:24} "
            f"{f.ticket.key} {f.location.path}:{f.location.line}:{f.location.column} "
            f"[{','.join(f.scanners)}] confidence={f.confidence:.2f}\n"
        )
    out.flush()
