"""Peak memory and throughput of fetching + extracting one large attachment.

Generates a text log of ``--size-mb`` (default 500 MB) in a temp folder, plus the same log inside
a zip (and a tar.gz with ``--tar``), then runs the real ``ticketscan fetch`` in a child process
with the built-in ``files`` source (the same DocumentWriter.add_file path the Jira and Zendesk
sources use) on each, one at a time. Reports wall time, MB/s of uncompressed text and the child's
peak RSS (``ru_maxrss`` from ``os.wait4``), and checks that the whole log was extracted (a fake
key planted on its last line is in the extracted text). The requirement: peak RSS < 200 MB.

    .venv/bin/python bench/attachments_rss.py [--size-mb 500] [--tar] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

LIMIT_MB = 200
KEY = "AKIAQ2BENCHMARKKEY77"  # fake: AKIA + 16 of [A-Z2-7]


def make_log(path: Path, size: int) -> None:
    """A realistic-ish log: timestamps, levels, request ids, paths (compresses ~5-8x)."""
    rng = random.Random(7)
    levels = ["INFO", "DEBUG", "WARN", "ERROR"]
    paths = ["/api/v2/tickets", "/api/v2/users", "/login", "/export", "/health"]
    lines = []
    for i in range(20_000):
        lines.append(
            f"2026-11-26T10:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z {rng.choice(levels):5} "
            f"req={rng.getrandbits(64):016x} user={rng.randint(1, 99999)} "
            f"path={rng.choice(paths)}?page={rng.randint(1, 500)} took={rng.random() * 900:.1f}ms\n"
        )
    block = "".join(lines).encode()
    with path.open("wb") as out:
        written = 0
        tail = f"final line aws_access_key_id={KEY}\n".encode()
        while written + len(block) + len(tail) <= size:
            out.write(block)
            written += len(block)
        out.write(block[: size - written - len(tail)])
        out.write(tail)


def run_fetch(folder: Path, work: Path) -> dict[str, float | int | bool]:
    event = work / "event.json"
    event.write_text(json.dumps({"source": "files", "ticket": "BENCH-1", "paths": [str(folder)]}))
    out = work / "docs"
    cmd = [sys.executable, "-m", "ticketscan", "fetch", "--event", str(event), "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"fetch failed ({proc.returncode}): {stderr[-2000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    docs = manifest["documents"]
    text_bytes = sum((out / d["text_path"]).stat().st_size for d in docs)
    found = False
    for d in docs:
        with (out / d["text_path"]).open("rb") as handle:
            handle.seek(max(0, (out / d["text_path"]).stat().st_size - 200))
            found = found or KEY.encode() in handle.read()
    return {
        "seconds": elapsed,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # Linux: kilobytes
        "text_bytes": text_bytes,
        "documents": len(docs),
        "skipped": len(manifest["skipped"]),
        "tail_found": found,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--tar", action="store_true", help="also a .tar.gz of the log")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args()
    size = args.size_mb * 1000 * 1000
    root = Path(args.keep or tempfile.mkdtemp(prefix="ticketscan-bench-att-"))
    root.mkdir(parents=True, exist_ok=True)
    log = root / "src" / "server.log"
    log.parent.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    if not log.exists() or log.stat().st_size != size:
        make_log(log, size)
    cases: list[tuple[str, Path]] = []
    text_case = root / "case-text"
    text_case.mkdir(exist_ok=True)
    if not (text_case / "server.log").exists():
        os.link(log, text_case / "server.log")
    cases.append(("text log", text_case))
    zip_case = root / "case-zip"
    zip_case.mkdir(exist_ok=True)
    if not (zip_case / "logs.zip").exists():
        with zipfile.ZipFile(zip_case / "logs.zip", "w", zipfile.ZIP_DEFLATED,
                             compresslevel=1) as archive:
            archive.write(log, "var/log/server.log")
    cases.append(("zip (deflate)", zip_case))
    if args.tar:
        tar_case = root / "case-tar"
        tar_case.mkdir(exist_ok=True)
        if not (tar_case / "logs.tar.gz").exists():
            with tarfile.open(tar_case / "logs.tar.gz", "w:gz", compresslevel=1) as archive:
                archive.add(log, "var/log/server.log")
        cases.append(("tar.gz", tar_case))
    tiny = root / "case-tiny"
    tiny.mkdir(exist_ok=True)
    (tiny / "note.txt").write_text("hello\n")
    print(f"generated inputs in {time.perf_counter() - t0:.1f} s under {root}", file=sys.stderr)

    rows = []
    for label, folder in [("baseline (6-byte file)", tiny), *cases]:
        with tempfile.TemporaryDirectory(prefix="bench-fetch-") as work:
            result = run_fetch(folder, Path(work))
        on_disk = sum(p.stat().st_size for p in folder.iterdir())
        rows.append((label, on_disk, result))

    print(f"\nticketscan fetch (files source) of one {args.size_mb} MB attachment; "
          f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    header = (f"{'input':<24} {'file MB':>8} {'text MB':>8} {'seconds':>8} {'MB/s':>7} "
              f"{'net MB/s':>9} {'peak RSS MB':>12} {'tail key':>9}")
    print(header)
    print("-" * len(header))
    ok = True
    startup = float(rows[0][2]["seconds"])
    for label, on_disk, r in rows:
        big = r["text_bytes"] > 1000
        mbs = r["text_bytes"] / 1e6 / r["seconds"] if big else 0.0
        net = r["text_bytes"] / 1e6 / max(r["seconds"] - startup, 1e-3) if big else 0.0
        print(f"{label:<24} {on_disk / 1e6:>8.1f} {r['text_bytes'] / 1e6:>8.1f} "
              f"{r['seconds']:>8.2f} {mbs:>7.1f} {net:>9.1f} {r['peak_rss_mb']:>12.1f} "
              f"{'yes' if r['tail_found'] else ('-' if on_disk < 1000 else 'NO'):>9}")
        if r["peak_rss_mb"] >= LIMIT_MB or (on_disk > 1000 and not r["tail_found"]):
            ok = False
    print("net MB/s: text MB / (seconds - the baseline's seconds, i.e. without CLI start-up)")
    print(f"requirement: peak RSS < {LIMIT_MB} MB and the whole log extracted: "
          f"{'PASS' if ok else 'FAIL'}")
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
