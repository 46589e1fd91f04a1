"""Running scanners: each in its own process, concurrently, with a timeout and a memory cap.

A scanner's raw findings (the secrets in clear) never leave its process: the child hashes and
redacts them into :class:`~ticketscan.models.Detection` records, applies the default
suppression and writes only those to a file the parent reads.
"""

from __future__ import annotations

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

from .components import ComponentSettings, ScanBatch, Scanner
from .errors import ScannerError, TicketscanError
from .models import Detection, RawFinding, redact, sha256_text
from .suppress import suppression_reason
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
    scanner: Scanner, raws: Sequence[RawFinding], views: ViewSet
) -> tuple[list[tuple[str, Detection]], int]:
    """Map raw findings to their documents, drop suppressed ones, hash and redact the rest."""
    out: list[tuple[str, Detection]] = []
    suppressed = 0
    for raw in raws:
        located = views.locate(raw)
        if located is None:
            continue
        secret = located.secret
        if suppression_reason(secret) is not None:
            suppressed += 1
            continue
        kind = (
            canonical_type(located.rule_id, dict(scanner.rule_types))
            or (located.type and canonical_type(located.type))
            or "other"
        )
        end_line = max(located.end_line, located.line)
        end_column = located.end_column
        if end_line == located.line and end_column <= located.column:
            end_column = located.column + max(1, len(secret))
        det = Detection(
            scanner=scanner.name,
            rule_id=located.rule_id,
            type=kind,
            confidence=(
                located.confidence
                if located.confidence is not None
                else scanner.default_confidence
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
) -> None:
    os.setsid()  # own process group: a timeout kills the engine's subprocesses too
    if memory_mb:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    code = 0
    try:
        scanner = scanner_cls(settings)
        scanner.check()
        batch = ScanBatch(root=views.root, inputs=views.inputs, workdir=workdir)
        raws = scanner.scan(batch)
        detections, suppressed = normalize(scanner, raws, views)
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
) -> list[ScannerResult]:
    """Run every scanner concurrently in its own process; results in the given order."""
    ctx = multiprocessing.get_context("fork")
    running: dict[str, tuple[multiprocessing.process.BaseProcess, Path, float]] = {}
    for cls, settings in scanners:
        scratch = workdir / f"scanner-{cls.name}"
        scratch.mkdir(parents=True, exist_ok=True)
        out_path = workdir / f"{cls.name}.detections.json"
        out_path.unlink(missing_ok=True)
        proc = ctx.Process(
            target=_child,
            args=(cls, settings, views, scratch, out_path, memory_mb),
            name=f"ticketscan-scanner-{cls.name}",
            daemon=False,
        )
        proc.start()
        running[cls.name] = (proc, out_path, time.monotonic())
    results: dict[str, ScannerResult] = {}
    deadline = time.monotonic() + timeout
    while running:
        for name, (proc, out_path, started) in list(running.items()):
            proc.join(timeout=0.02)
            if proc.is_alive() and time.monotonic() < deadline:
                continue
            if proc.is_alive():
                _kill_group(proc)
                result = ScannerResult(name, error=f"timed out after {timeout:g} s")
            else:
                result = _collect(name, proc.exitcode, out_path, memory_mb)
            result.seconds = round(time.monotonic() - started, 3)
            results[name] = result
            del running[name]
            if on_done is not None:
                on_done(result)
    return [results[cls.name] for cls, _ in scanners]


def _kill_group(proc: multiprocessing.process.BaseProcess) -> None:
    assert proc.pid is not None
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.join(5)


def _collect(name: str, exitcode: int | None, out_path: Path, memory_mb: int) -> ScannerResult:
    if not out_path.is_file():
        if exitcode is not None and exitcode < 0:
            sig = signal.Signals(-exitcode).name
            hint = " (memory cap reached?)" if sig in ("SIGKILL", "SIGSEGV") else ""
            return ScannerResult(name, error=f"killed by {sig}{hint}")
        return ScannerResult(name, error=f"exited with code {exitcode} and no result")
    payload = json.loads(out_path.read_text(encoding="utf-8"))
    result = ScannerResult(name, peak_rss_mb=float(payload.get("peak_rss_mb", 0.0)))
    if "error" in payload:
        result.error = str(payload["error"])
        return result
    result.suppressed = int(payload.get("suppressed", 0))
    result.detections = [
        (doc, Detection.model_validate(det)) for doc, det in payload["detections"]
    ]
    return result


def scanner_error(result: ScannerResult) -> ScannerError:
    return ScannerError(result.error or "failed", plugin=result.name)

