"""The four pipeline steps, as plain functions over files.

``fetch``: event file -> documents directory (``manifest.json`` + ``text/``)
``scan``: documents directory -> findings JSONL (one or more scanners, concurrently)
``merge``: findings JSONL files -> one merged findings JSONL (+ SARIF)
``publish``: findings JSONL -> sinks, ``publish-report.json``

Each step reads and writes files only, so it can be an Argo step, and each is idempotent: the
same input gives the same output files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .attachments import AttachmentSettings
from .components import PublishContext, Scanner, Sink, Source
from .config import Config
from .documents import MANIFEST, DocumentWriter, read_manifest
from .errors import EventError, InputError, PluginError, ScannerError, UsageError
from .log import delivery_context
from .merge import build_findings, merge_findings
from .models import Finding, Manifest, PublishReport, TicketEvent
from .plugins import Plugins
from .scanning import ScannerResult, run_scanners
from .suppress import Suppression, load_suppression
from .views import decoded_inputs, document_inputs, single_pass_inputs

__all__ = [
    "ScanOutcome",
    "delivery_id_for",
    "fetch",
    "load_event",
    "merge",
    "publish",
    "read_findings",
    "scan",
    "write_findings",
]

log = logging.getLogger("ticketscan")

EVENT_DIR_HEADER = "x-ticketscan-event-dir"


def delivery_id_for(source: str, body: bytes) -> str:
    """The idempotency key of a delivery that carries none: a hash of source and body."""
    return "sha256:" + hashlib.sha256(source.encode() + b"\x00" + body).hexdigest()[:32]


# ---------------------------------------------------------------------------------- fetch


def _sources_by_priority(plugins: Plugins) -> list[type[Source]]:
    loaded = []
    for name in plugins.names("source"):
        try:
            loaded.append(plugins.source(name))
        except PluginError as exc:
            log.warning("source %s is not usable: %s", name, exc)
    return sorted(loaded, key=lambda cls: (getattr(cls, "priority", 100), cls.name))


def choose_source(
    plugins: Plugins,
    config: Config,
    payload: Mapping[str, Any],
    headers: Mapping[str, str],
    name: str | None = None,
) -> type[Source]:
    """The source named by flag or config, else the first configured one that claims it."""
    name = name or (config.pipeline.source if config.pipeline.source != "auto" else None)
    if name:
        return plugins.source(name)
    for cls in _sources_by_priority(plugins):
        if cls.claims(payload, headers) and cls.is_configured(config.section("source", cls.name)):
            return cls
    raise EventError(
        "no installed source recognizes this event "
        f"(installed: {', '.join(plugins.names('source'))})",
        hint="pass --source NAME",
    )


def load_event(path: Path) -> tuple[dict[str, Any], bytes]:
    """Read a webhook body from a file: (parsed JSON object, raw bytes)."""
    if not path.is_file():
        raise InputError(f"event file {path} does not exist")
    body = path.read_bytes()
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventError(f"event file {path} is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise EventError(f"event file {path} must hold a JSON object", field="$")
    return payload, body


def parse_event(
    plugins: Plugins,
    config: Config,
    payload: Mapping[str, Any],
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    source: str | None = None,
    delivery_id: str | None = None,
) -> tuple[Source, TicketEvent]:
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    cls = choose_source(plugins, config, payload, headers, source)
    instance = cls(config.settings_for(cls))
    event = instance.parse_event(payload, headers)
    if delivery_id:
        event.delivery_id = delivery_id
    elif not event.delivery_id:
        event.delivery_id = delivery_id_for(cls.name, body)
    return instance, event


def fetch(
    plugins: Plugins,
    config: Config,
    event_path: Path,
    out_dir: Path,
    *,
    source: str | None = None,
    delivery_id: str | None = None,
) -> Manifest:
    """Parse the event file and write the ticket's documents into ``out_dir``."""
    payload, body = load_event(event_path)
    headers = {EVENT_DIR_HEADER: str(event_path.resolve().parent)}
    instance, event = parse_event(
        plugins, config, payload, body, headers, source=source, delivery_id=delivery_id
    )
    return fetch_event(instance, event, out_dir, attachments=config.attachments)


def fetch_event(
    instance: Source,
    event: TicketEvent,
    out_dir: Path,
    *,
    attachments: AttachmentSettings | None = None,
) -> Manifest:
    """Fetch ``event`` into ``out_dir``; ``attachments`` limits file extraction (None: defaults)."""
    with delivery_context(event.delivery_id):
        if out_dir.exists():
            # idempotent: a re-run replaces what an earlier (maybe partial) run wrote
            shutil.rmtree(out_dir / "text", ignore_errors=True)
            (out_dir / MANIFEST).unlink(missing_ok=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        writer = DocumentWriter(out_dir, event, attachments)
        if event.skip_reason:
            log.info("nothing to fetch: %s", event.skip_reason)
        else:
            instance.fetch(event, writer)
        manifest = writer.close()
        log.info(
            "fetched %s %s: %d documents, %d skipped",
            event.system,
            event.ticket.key,
            len(manifest.documents),
            len(manifest.skipped),
        )
        return manifest


# ----------------------------------------------------------------------------------- scan


@dataclass
class ScanOutcome:
    findings: list[Finding]
    results: list[ScannerResult] = field(default_factory=list)

    @property
    def errors(self) -> list[ScannerResult]:
        return [r for r in self.results if not r.ok]


def _plain_dir_manifest(plugins: Plugins, config: Config, folder: Path, tmp: Path) -> Path:
    """Scan a folder of plain files in place: fetch it with the files source first."""
    from .builtins.sources import FilesSource

    event = FilesSource.event_for([folder], ticket=folder.name or "local")
    out = tmp / "documents"
    fetch_event(
        FilesSource(config.settings_for(FilesSource)), event, out, attachments=config.attachments
    )
    return out


#: What ``scanners = ["auto"]`` runs, chosen from docs/benchmarks.md: the best F1 on the dev
#: corpus with the fewest hard negatives, at the highest throughput.
RECOMMENDED_SCANNERS = ("fastscan", "kingfisher")
FALLBACK_SCANNERS = ("gitleaks", "detect-secrets")


#: Below this much ticket text, decode first and start each engine once (lowest latency);
#: above it, decoding overlaps the engines' first pass (highest throughput).
SINGLE_PASS_BYTES = 4 * 1024 * 1024


def resolve_scanners(plugins: Plugins, names: Sequence[str]) -> list[str]:
    """Expand ``auto`` into the recommended scanners that are installed."""
    out: list[str] = []
    installed = set(plugins.names("scanner"))
    for name in names:
        if name != "auto":
            out.append(name)
            continue
        chosen = [s for s in RECOMMENDED_SCANNERS if s in installed]
        if not chosen:
            chosen = [s for s in FALLBACK_SCANNERS if s in installed][:1]
        if not chosen:
            raise UsageError(
                "no scanner plugin is installed",
                hint="pip install ticketscan-fastscan (or ticketscan-detect-secrets)",
            )
        out.extend(c for c in chosen if c not in out)
    return out


def scan(
    plugins: Plugins,
    config: Config,
    docs_dir: Path,
    scanner_names: Sequence[str],
    *,
    allow_partial: bool | None = None,
    on_done: Callable[[ScannerResult], None] | None = None,
) -> ScanOutcome:
    """Run the scanners over a documents directory (or a folder of plain files)."""
    if not docs_dir.exists():
        raise InputError(f"documents directory {docs_dir} does not exist")
    if not scanner_names:
        raise UsageError("no scanner given", hint="pass --scanner NAME or set pipeline.scanners")
    chosen: list[tuple[type[Scanner], Any]] = []
    for name in resolve_scanners(plugins, scanner_names):
        cls = plugins.scanner(name)
        chosen.append((cls, config.settings_for(cls)))
    allow_partial = config.pipeline.allow_partial if allow_partial is None else allow_partial
    suppression = load_suppression(config.data, config.path)
    with tempfile.TemporaryDirectory(prefix="ticketscan-scan-") as tmpname:
        tmp = Path(tmpname)
        if docs_dir.is_dir() and not (docs_dir / MANIFEST).exists():
            docs_dir = _plain_dir_manifest(plugins, config, docs_dir, tmp)
        elif docs_dir.is_file():
            raise InputError(f"{docs_dir} is a file; scan takes a documents directory")
        manifest = read_manifest(docs_dir)
        with delivery_context(manifest.event.delivery_id):
            decode = config.pipeline.decode
            small = sum(doc.size for doc in manifest.documents) < SINGLE_PASS_BYTES
            if decode and small:
                # a typical ticket: decoding takes milliseconds, and one engine start per
                # scanner (not two) is what the latency is made of
                views = single_pass_inputs(manifest, docs_dir, tmp)
                more = None
            else:
                # big inputs: decoding runs here while the scanners work on the documents
                views = document_inputs(manifest, docs_dir, tmp)
                more = (lambda: decoded_inputs(manifest, docs_dir, tmp)) if decode else None
            results = run_scanners(
                chosen,
                views,
                tmp,
                timeout=config.pipeline.scanner_timeout,
                memory_mb=config.pipeline.scanner_memory_mb,
                on_done=on_done,
                allowlist=suppression.allowlist,
                more_views=more,
            )
            docs = {doc.id: doc for doc in manifest.documents}
            failed = [r for r in results if not r.ok]
            for result in results:
                if result.ok:
                    log.info(
                        "scanner %s: %d detections (%d suppressed) in %.2f s",
                        result.name,
                        len(result.detections),
                        result.suppressed,
                        result.seconds,
                    )
                else:
                    log.error("scanner %s failed: %s", result.name, result.error)
            if failed and not allow_partial:
                first = failed[0]
                raise ScannerError(first.error or "failed", plugin=first.name)
            pairs = [
                (docs[doc_id], det)
                for result in results
                if result.ok
                for doc_id, det in result.detections
                if doc_id in docs
            ]
            return ScanOutcome(_suppress(build_findings(pairs), suppression), results)


# ------------------------------------------------------------------------------ files I/O


def write_findings(path: Path, findings: Iterable[Finding]) -> None:
    """Write findings as JSON lines, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for finding in findings:
            fh.write(finding.model_dump_json(exclude_none=True))
            fh.write("\n")
    tmp.replace(path)


def read_findings(path: Path) -> list[Finding]:
    """Read a findings JSONL file; bad lines are an InputError naming file and line."""
    if not path.is_file():
        raise InputError(f"findings file {path} does not exist")
    findings: list[Finding] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                findings.append(Finding.model_validate_json(line))
            except ValueError as exc:
                raise InputError(f"{path}:{lineno}: not a valid finding: {_short(exc)}") from None
    return findings


def _short(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        return f"{loc}: {first.get('msg')}" if loc else str(first.get("msg"))
    return str(exc).splitlines()[0]


def write_status(path: Path, results: Sequence[ScannerResult]) -> None:
    """The error record next to a partial scan's findings (``--allow-partial``)."""
    data = {
        r.name: {
            "ok": r.ok,
            "error": r.error,
            "detections": len(r.detections),
            "suppressed": r.suppressed,
        }
        for r in results
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


# ---------------------------------------------------------------------------------- merge


def merge(inputs: Sequence[Path], config: Config | None = None) -> list[Finding]:
    """Merge findings files; with ``config``, its allowlist and baseline apply too."""
    if not inputs:
        raise UsageError("merge needs at least one findings file")
    everything: list[Finding] = []
    for path in inputs:
        everything.extend(read_findings(path))
    merged = merge_findings(everything)
    if config is None:
        return merged
    return _suppress(merged, load_suppression(config.data, config.path))


def _suppress(findings: list[Finding], suppression: Suppression) -> list[Finding]:
    kept, allowed, known = suppression.apply(findings)
    if allowed or known:
        log.info("suppressed %d findings by the allowlist and %d by the baseline", allowed, known)
    return kept


# -------------------------------------------------------------------------------- publish


def publish(
    plugins: Plugins,
    config: Config,
    findings: Sequence[Finding],
    sink_names: Sequence[str],
    out_dir: Path,
    *,
    dry_run: bool = False,
    manifest: Manifest | None = None,
) -> PublishReport:
    """Deliver findings to every sink; never stops at the first failure.

    ``publish-report.json`` in ``out_dir`` records what each sink delivered; a re-run (Argo
    retrying the step) skips those, so nothing is sent twice.
    """
    report_path = out_dir / "publish-report.json"
    previous = PublishReport()
    if report_path.is_file():
        try:
            previous = PublishReport.model_validate_json(report_path.read_bytes())
        except ValueError:
            log.warning("ignoring unreadable %s", report_path)
    from .delivery import DeliverySettings, delivery_settings, state_store_for

    sinks: list[Sink] = []
    policies: dict[str, DeliverySettings] = {}
    for name in sink_names:
        cls = plugins.sink(name)
        sinks.append(cls(config.settings_for(cls)))
        policies[name] = delivery_settings(config, name)
    state = state_store_for(plugins, config)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = PublishReport(findings=len(findings))
    for sink in sinks:
        done = previous.sinks.get(sink.name)
        context = PublishContext(
            out_dir=out_dir,
            dry_run=dry_run,
            already_delivered=frozenset(done.delivered) if done else frozenset(),
            manifest=manifest,
            delivery=policies.get(sink.name),
            state=state,
        )
        sink_report = sink.publish(findings, context)
        if done:
            # carry over what earlier attempts delivered, so the report stays complete
            sink_report.delivered = sorted(set(done.delivered) | set(sink_report.delivered))
            sink_report.suppressed = sorted(
                set(sink_report.suppressed) - set(sink_report.delivered)
            )
        report.sinks[sink.name] = sink_report
        try:
            sink.close()
        except Exception as exc:
            log.warning("sink %s did not close cleanly: %s", sink.name, exc)
        if sink_report.ok:
            log.info(
                "sink %s: %d delivered, %d suppressed",
                sink.name,
                len(sink_report.delivered),
                len(sink_report.suppressed),
            )
        else:
            reasons = "; ".join(sorted(set(sink_report.failed.values()))[:3])
            log.error(
                "sink %s failed: %s",
                sink.name,
                sink_report.error or f"{len(sink_report.failed)} finding(s): {reasons}",
            )
    if state is not None:
        try:
            state.close()
        except Exception as exc:
            log.warning("state store %s did not close cleanly: %s", state.name, exc)
    tmp = report_path.with_name(report_path.name + ".tmp")
    tmp.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(report_path)
    return report
