"""The pipeline step commands: fetch, scan, merge, publish, and run (all four)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import click

from ticketscan import steps
from ticketscan.cli.main import State
from ticketscan.errors import EXIT_FINDINGS, PluginError
from ticketscan.models import Finding
from ticketscan.sarif import write_sarif

pass_state = click.make_pass_decorator(State)

SAMPLE_EVENT = "sample-event.json"


@contextlib.contextmanager
def _progress(names: Sequence[str]) -> Iterator[Any]:
    """A live status line on a terminal while scanners run; nothing otherwise."""
    if not sys.stderr.isatty():
        yield lambda result: None
        return
    from rich.console import Console

    console = Console(stderr=True)
    pending = set(names)
    with console.status(f"scanning with {', '.join(sorted(pending))} …") as status:

        def done(result: Any) -> None:
            pending.discard(result.name)
            mark = "done" if result.ok else f"failed: {result.error}"
            console.log(f"{result.name}: {mark} in {result.seconds:.1f} s")
            if pending:
                status.update(f"scanning with {', '.join(sorted(pending))} …")

        yield done


def _scanners(state: State, given: Sequence[str]) -> list[str]:
    return steps.resolve_scanners(state.plugins(), list(given) or state.config().pipeline.scanners)


def _finish(state: State, findings: Sequence[Finding], fail_on_findings: bool) -> None:
    if findings and (fail_on_findings or state.config().pipeline.fail_on_findings):
        raise click.exceptions.Exit(EXIT_FINDINGS)


@click.command()
@click.option(
    "--event",
    "event_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Webhook body (JSON) as received.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Documents directory to write (manifest.json + text/).",
)
@click.option("--source", help="Source plugin (default: pipeline.source, else auto-detect).")
@click.option("--delivery-id", help="Idempotency key of the delivery (default: from headers/body).")
@pass_state
def fetch(
    state: State, event_path: Path, out_dir: Path, source: str | None, delivery_id: str | None
) -> None:
    """Turn a webhook event into a documents directory."""
    manifest = steps.fetch(
        state.plugins(),
        state.config(),
        event_path,
        out_dir,
        source=source,
        delivery_id=delivery_id,
    )
    click.echo(f"{len(manifest.documents)} documents, {len(manifest.skipped)} skipped -> {out_dir}")


@click.command()
@click.argument("docs_dir", type=click.Path(path_type=Path))
@click.option(
    "--scanner",
    "scanner_names",
    multiple=True,
    help="Scanner to run (repeatable; default: pipeline.scanners). Run concurrently.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Findings JSONL to write.",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    default=None,
    help="Write what completed (plus OUT.status.json) when a scanner fails.",
)
@click.option("--fail-on-findings", is_flag=True, help="Exit 1 when anything is found.")
@pass_state
def scan(
    state: State,
    docs_dir: Path,
    scanner_names: tuple[str, ...],
    out_path: Path,
    allow_partial: bool | None,
    fail_on_findings: bool,
) -> None:
    """Scan a documents directory (or a folder of plain files) with one or more scanners."""
    names = _scanners(state, scanner_names)
    with _progress(names) as on_done:
        outcome = steps.scan(
            state.plugins(),
            state.config(),
            docs_dir,
            names,
            allow_partial=allow_partial,
            on_done=on_done,
        )
    steps.write_findings(out_path, outcome.findings)
    if outcome.errors:
        steps.write_status(out_path.with_name(out_path.name + ".status.json"), outcome.results)
    click.echo(f"{len(outcome.findings)} findings -> {out_path}")
    _finish(state, outcome.findings, fail_on_findings)


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path))
@click.option("--sarif", "sarif_path", type=click.Path(path_type=Path), help="Also write SARIF.")
@click.option("--fail-on-findings", is_flag=True, help="Exit 1 when anything is found.")
@pass_state
def merge(
    state: State,
    inputs: tuple[Path, ...],
    out_path: Path,
    sarif_path: Path | None,
    fail_on_findings: bool,
) -> None:
    """Merge findings files into one: one finding per secret per place, every engine listed."""
    findings = steps.merge(list(inputs), state.config())
    steps.write_findings(out_path, findings)
    if sarif_path:
        write_sarif(sarif_path, findings)
    click.echo(f"{len(findings)} findings -> {out_path}")
    _finish(state, findings, fail_on_findings)


@click.command()
@click.argument("findings_path", type=click.Path(path_type=Path))
@click.option(
    "--sink",
    "sink_names",
    multiple=True,
    help="Sink to deliver to (repeatable; default: pipeline.sinks).",
)
@click.option(
    "--out",
    "out_dir",
    default=".",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for publish-report.json (and file sinks' relative paths).",
)
@click.option(
    "--documents",
    "docs_dir",
    type=click.Path(path_type=Path),
    help="The fetch step's documents directory (for sinks that need the ticket).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing remote.")
@pass_state
def publish(
    state: State,
    findings_path: Path,
    sink_names: tuple[str, ...],
    out_dir: Path,
    docs_dir: Path | None,
    dry_run: bool,
) -> None:
    """Deliver findings to sinks; exit 3 if any sink failed (a retry skips what was delivered)."""
    findings = steps.read_findings(findings_path)
    manifest = None
    if docs_dir is not None:
        from ticketscan.documents import read_manifest

        manifest = read_manifest(docs_dir)
    names = list(sink_names) or list(state.config().pipeline.sinks)
    report = steps.publish(
        state.plugins(),
        state.config(),
        findings,
        names,
        out_dir,
        dry_run=dry_run,
        manifest=manifest,
    )
    _check_report(report)


def _check_report(report: Any) -> None:
    failed = [name for name, r in report.sinks.items() if not r.ok]
    if failed:
        raise PluginError(
            f"sink(s) {', '.join(failed)} failed; see publish-report.json "
            "(a retry skips what was delivered)"
        )


@click.command()
@click.option(
    "--event",
    "event_path",
    type=click.Path(path_type=Path),
    help="Webhook body (JSON). Default with --sample: the bundled sample event.",
)
@click.option("--sample", is_flag=True, help="Run on the bundled sample ticket.")
@click.option("--source", help="Source plugin (default: pipeline.source, else auto-detect).")
@click.option("--scanner", "scanner_names", multiple=True, help="Scanner (repeatable).")
@click.option("--sink", "sink_names", multiple=True, help="Sink (repeatable).")
@click.option(
    "--out",
    "out_dir",
    default="ticketscan-out",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for every step's output.",
)
@click.option("--allow-partial", is_flag=True, default=None)
@click.option("--dry-run", is_flag=True, help="Sinks and actions change nothing remote.")
@click.option("--fail-on-findings", is_flag=True, help="Exit 1 when anything is found.")
@pass_state
def run(
    state: State,
    event_path: Path | None,
    sample: bool,
    source: str | None,
    scanner_names: tuple[str, ...],
    sink_names: tuple[str, ...],
    out_dir: Path,
    allow_partial: bool | None,
    dry_run: bool,
    fail_on_findings: bool,
) -> None:
    """Fetch, scan, merge and publish one event in one process.

    Writes OUT/documents/, OUT/findings.jsonl, OUT/findings.sarif and OUT/publish-report.json.
    """
    if event_path is None and not sample:
        raise click.UsageError("give --event FILE, or --sample for the bundled sample ticket")
    with contextlib.ExitStack() as stack:
        if event_path is None:
            traversable = resources.files("ticketscan") / "samples" / SAMPLE_EVENT
            event_path = stack.enter_context(resources.as_file(traversable))
            # the sample event's relative paths point inside the package
            event_path = Path(event_path)
        findings = run_pipeline(
            state,
            event_path,
            out_dir,
            source=source,
            scanner_names=scanner_names,
            sink_names=sink_names,
            allow_partial=allow_partial,
            dry_run=dry_run,
        )
    _finish(state, findings, fail_on_findings)


def run_pipeline(
    state: State,
    event_path: Path,
    out_dir: Path,
    *,
    source: str | None = None,
    scanner_names: Sequence[str] = (),
    sink_names: Sequence[str] = (),
    allow_partial: bool | None = None,
    dry_run: bool = False,
) -> list[Finding]:
    plugins, config = state.plugins(), state.config()
    names = _scanners(state, scanner_names)
    sinks = list(sink_names) or list(config.pipeline.sinks)
    # validate every component's settings before any work starts: those the run uses and
    # every section the file configures for an installed component
    for name in names:
        config.settings_for(plugins.scanner(name))
    for name in sinks:
        config.settings_for(plugins.sink(name))
    config.validate_sections(plugins, strict=False)
    docs_dir = out_dir / "documents"
    manifest = steps.fetch(plugins, config, event_path, docs_dir, source=source)
    with _progress(names) as on_done:
        outcome = steps.scan(
            plugins, config, docs_dir, names, allow_partial=allow_partial, on_done=on_done
        )
    if outcome.errors:
        steps.write_status(out_dir / "scan.status.json", outcome.results)
    findings = outcome.findings
    steps.write_findings(out_dir / "findings.jsonl", findings)
    write_sarif(out_dir / "findings.sarif", findings)
    report = steps.publish(
        plugins, config, findings, sinks, out_dir, dry_run=dry_run, manifest=manifest
    )
    _check_report(report)
    return findings
