"""Running scanners: each in its own process, concurrently, with a timeout and a memory cap.

A scanner's raw findings (the secrets in clear) never leave its process: the child hashes and
redacts them into :class:`~ticketscan.models.Detection` records, applies the default
suppression and the allowlist and writes only those to a file the parent reads.

The memory cap is on *resident* memory of the scanner's whole process group (the Python child
and the engine it runs), watched by the parent and enforced by killing the group. An address
space limit (RLIMIT_AS) is not used: Go engines reserve far more virtual memory than they use
(gitleaks' wazero-based RE2 reserves 4 GiB up front and panics under a 4 GB RLIMIT_AS).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import resource
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .components import ComponentSettings, ScanBatch, Scanner
from .errors import TicketscanError
from .models import Detection, RawFinding, redact, sha256_text
from .suppress import Allowlist
from .taxonomy import canonical_type
from .views import ViewSet

__all__ = ["ScannerResult", "normalize", "run_scanners"]


@dataclass
class ScannerResult:
    name: str
    detections: list[tuple[str, Detection]] = field(default_factory=list)
    suppressed: int = 0
    seconds: float = 0.0
    error: str | None = None
    peak_rss_mb: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def normalize(
    scanner: Scanner,
    raws: Sequence[RawFinding],
    views: ViewSet,
    allowlist: Allowlist | None = None,
) -> tuple[list[tuple[str, Detection]], int]:
    """Map raw findings to their documents, drop suppressed ones, hash and redact the rest."""
    allowlist = allowlist if allowlist is not None else Allowlist()
    out: list[tuple[str, Detection]] = []
    suppressed = 0
    for raw in raws:
        located = views.locate(raw)
        if located is None:
            continue
        secret = located.secret
        if allowlist.secret_reason(secret) is not None:
            suppressed += 1
            continue
        kind = (
            canonical_type(located.rule_id, scanner.rule_types)
            or (located.type and canonical_type(located.type))
            or "other"
        )
        if allowlist.type_allowed(kind):
            suppressed += 1
            continue
        end_line = max(located.end_line, located.line)
        end_column = located.end_column
        if end_line == located.line and end_column <= located.column:
            end_column = located.column + max(1, len(secret))
        det = Detection(
            scanner=scanner.name,
            rule_id=located.rule_id,
            type=kind,
            confidence=(
                located.confidence if located.confidence is not None else scanner.default_confidence
            ),
            verified=located.verified,
            secret_sha256=sha256_text(secret),
            secret_length=len(secret),
            redacted=redact(secret),
            line=located.line,
            column=max(1, located.column),
            end_line=end_line,
            end_column=max(1, end_column),
        )
        out.append((located.document, det))
    return out, suppressed


def _child(
    scanner_cls: type[Scanner],
    settings: ComponentSettings,
    views: ViewSet,
    workdir: Path,
    out_path: Path,
    memory_mb: int,
    allowlist: Allowlist | None = None,
) -> None:
    os.setsid()  # own process group: a timeout kills the engine's subprocesses too
    code = 0
    try:
        scanner = scanner_cls(settings)
        scanner.check()
        batch = ScanBatch(root=views.root, inputs=views.inputs, workdir=workdir)
        raws = scanner.scan(batch)
        detections, suppressed = normalize(scanner, raws, views, allowlist)
        payload: dict[str, object] = {
            "detections": [[doc, det.model_dump(mode="json")] for doc, det in detections],
            "suppressed": suppressed,
        }
    except MemoryError:
        payload = {"error": f"exceeded its memory cap of {memory_mb} MB"}
        code = 1
    except TicketscanError as exc:
        payload = {"error": exc.message + (f" ({exc.hint})" if exc.hint else "")}
        code = 1
    except BaseException as exc:  # report, never crash silently
        payload = {
            "error": f"crashed: {type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8),
        }
        code = 1
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    payload["peak_rss_mb"] = round(max(usage, children) / 1024, 1)
    tmp = out_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(out_path)
    os._exit(code)


def run_scanners(
    scanners: Sequence[tuple[type[Scanner], ComponentSettings]],
    views: ViewSet,
    workdir: Path,
    *,
    timeout: float,
    memory_mb: int,
    on_done: Callable[[ScannerResult], None] | None = None,
    allowlist: Allowlist | None = None,
    more_views: Callable[[], ViewSet | None] | None = None,
) -> list[ScannerResult]:
    """Run every scanner concurrently in its own process; results in the given order.

    ``memory_mb`` caps the resident memory of each scanner's process group (0: no cap).
    ``more_views``, if given, is called in this process while the scanners already work on
    ``views`` (the documents); the inputs it returns (the decoded views) get a second process
    per scanner, so decoding overlaps scanning. A scanner's result covers both passes.
    """
    ctx = multiprocessing.get_context("fork")
    started_at = time.monotonic()
    deadline = started_at + timeout
    running: dict[tuple[str, int], tuple[Any, Path, float]] = {}
    partial: dict[str, list[ScannerResult]] = {cls.name: [] for cls, _ in scanners}
    passes = 2 if more_views is not None else 1

    def start(cls: type[Scanner], settings: ComponentSettings, batch: ViewSet, n: int) -> None:
        scratch = workdir / f"scanner-{cls.name}-{n}"
        scratch.mkdir(parents=True, exist_ok=True)
        out_path = workdir / f"{cls.name}.{n}.detections.json"
        out_path.unlink(missing_ok=True)
        proc = ctx.Process(
            target=_child,
            args=(cls, settings, batch, scratch, out_path, memory_mb, allowlist),
            name=f"ticketscan-scanner-{cls.name}",
            daemon=False,
        )
        proc.start()
        running[(cls.name, n)] = (proc, out_path, time.monotonic())

    for cls, settings in scanners:
        start(cls, settings, views, 1)
    if more_views is not None:
        extra = more_views()
        if extra is not None and extra.inputs:
            for cls, settings in scanners:
                start(cls, settings, extra, 2)
        else:
            passes = 1
    results: dict[str, ScannerResult] = {}
    peaks: dict[tuple[str, int], float] = {}
    next_check = 0.0
    while running:
        now = time.monotonic()
        over: dict[tuple[str, int], float] = {}
        if now >= next_check:
            next_check = now + _RSS_INTERVAL
            usage = _group_rss_mb({proc.pid for proc, _, _ in running.values() if proc.pid})
            for key, (proc, _, _) in running.items():
                rss = usage.get(proc.pid or -1, 0.0)
                peaks[key] = max(peaks.get(key, 0.0), rss)
                if memory_mb and rss > memory_mb:
                    over[key] = rss
        for key, (proc, out_path, _started) in list(running.items()):
            name = key[0]
            proc.join(timeout=0.02)
            if proc.is_alive() and time.monotonic() < deadline and key not in over:
                continue
            if key in over and proc.is_alive():
                _kill_group(proc)
                result = ScannerResult(
                    name,
                    error=f"exceeded its memory cap of {memory_mb} MB "
                    f"({over[key]:.0f} MB resident; raise pipeline.scanner_memory_mb)",
                )
            elif proc.is_alive():
                _kill_group(proc)
                result = ScannerResult(name, error=f"timed out after {timeout:g} s")
            else:
                result = _collect(name, proc.exitcode, out_path, memory_mb)
            result.peak_rss_mb = max(result.peak_rss_mb, round(peaks.get(key, 0.0), 1))
            del running[key]
            partial[name].append(result)
            if len(partial[name]) == passes:
                combined = _combine(name, partial[name])
                combined.seconds = round(time.monotonic() - started_at, 3)
                results[name] = combined
                if on_done is not None:
                    on_done(combined)
    return [results[cls.name] for cls, _ in scanners]


def _combine(name: str, parts: list[ScannerResult]) -> ScannerResult:
    """One scanner's result over both passes: the first error wins, detections add up."""
    errors = [p.error for p in parts if p.error]
    combined = ScannerResult(name, error=errors[0] if errors else None)
    combined.peak_rss_mb = max(p.peak_rss_mb for p in parts)
    if combined.error is None:
        for part in parts:
            combined.detections.extend(part.detections)
            combined.suppressed += part.suppressed
    return combined


_RSS_INTERVAL = 0.1
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024) if hasattr(os, "sysconf") else 0.004


def _group_rss_mb(groups: set[int]) -> dict[int, float]:
    """Resident MB per process group (the scanner child and every engine it started).

    Reads ``/proc``; where there is none (not Linux), nothing is measured and no cap applies.
    """
    totals: dict[int, float] = {}
    if not groups:
        return totals
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return totals
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        try:
            pgrp, rss_pages = int(fields[2]), int(fields[21])
        except (IndexError, ValueError):
            continue
        if pgrp in groups:
            totals[pgrp] = totals.get(pgrp, 0.0) + rss_pages * _PAGE_MB
    return totals


def _kill_group(proc: multiprocessing.process.BaseProcess) -> None:
    assert proc.pid is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.join(5)


def _collect(name: str, exitcode: int | None, out_path: Path, memory_mb: int) -> ScannerResult:
    if not out_path.is_file():
        if exitcode is not None and exitcode < 0:
            sig = signal.Signals(-exitcode).name
            hint = " (memory cap reached?)" if sig in ("SIGKILL", "SIGSEGV") else ""
            return ScannerResult(name, error=f"killed by {sig}{hint}")
        return ScannerResult(name, error=f"exited with code {exitcode} and no result")
    # one pass of pydantic-core over the file: tens of thousands of detections parse fast
    payload = _ChildPayload.model_validate_json(out_path.read_bytes())
    result = ScannerResult(name, peak_rss_mb=payload.peak_rss_mb)
    if payload.error is not None:
        result.error = payload.error
        return result
    result.suppressed = payload.suppressed
    result.detections = payload.detections
    return result


class _ChildPayload(BaseModel):
    """What a scanner process writes for the parent (never a raw secret)."""

    detections: list[tuple[str, Detection]] = []
    suppressed: int = 0
    peak_rss_mb: float = 0.0
    error: str | None = None
    traceback: str | None = None
