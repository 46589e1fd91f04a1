#!/usr/bin/env python3
"""fastscan's engine alone: MB/s of the hyperscan path, the pure-Python path and plain `re`.

    .venv/bin/python bench/fastscan.py [--mb 64] [--corpus ../shared/bench/dev/docs] [--no-cli]

Builds one ticket-like text file of about ``--mb`` MB by concatenating the documents of the
dev corpus (Jira, Zendesk HTML, mail, logs, configs...) over and over, then times on that file:

- fastscan / hyperscan: the engine as the scanner runs it (prefilter + confirmation, chunked);
- fastscan / python: the same rules on the pure-Python path (what runs without hyperscan);
- re baseline: every default rule's regex run with Python `re` over the whole text (no checks);
- gitleaks and Kingfisher CLIs on the same file, when installed (for the ratios the issue asks);
- the `ticketscan scan` CLI with only fastscan on the same file (process start, views, merge).

Prints one table. Timings are wall-clock seconds of one run after a warm-up compile.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_corpus(source: Path, target: Path, megabytes: float) -> int:
    files = sorted(p for p in source.rglob("*") if p.is_file())
    if not files:
        raise SystemExit(f"no documents under {source}")
    want = int(megabytes * 1024 * 1024)
    size = 0
    with target.open("wb") as out:
        while size < want:
            for path in files:
                data = path.read_bytes()
                out.write(data + b"\n")
                size += len(data) + 1
                if size >= want:
                    break
    return size


def build_sparse(source: Path, target: Path, megabytes: float, keep_every: int) -> int:
    """The corpus with planted secrets kept in one document out of ``keep_every`` only.

    Real ticket streams hold far fewer secrets than the dev corpus (several per document); the
    labelled lines of the other documents are dropped (hard negatives stay).
    """
    import json

    labels_file = source.parent / "labels.jsonl"
    drop: dict[str, set[int]] = {}
    for line in labels_file.read_text().splitlines():
        label = json.loads(line)
        lines = drop.setdefault(label["file"], set())
        lines.update(range(label["line"], label["end_line"] + 1))
    files = sorted(p for p in source.rglob("*") if p.is_file())
    want = int(megabytes * 1024 * 1024)
    size, k = 0, 0
    with target.open("wb") as out:
        while size < want:
            for path in files:
                rel = str(path.relative_to(source.parent))
                data = path.read_bytes()
                if k % keep_every and rel in drop:
                    gone = drop[rel]
                    data = b"\n".join(x for i, x in enumerate(data.split(b"\n"), 1)
                                      if i not in gone)
                out.write(data + b"\n")
                size += len(data) + 1
                k += 1
                if size >= want:
                    break
    return size


def build_folder(source: Path, target: Path, megabytes: float) -> int:
    """The corpus's documents copied over and over into a folder, as a ticket store holds them."""
    files = sorted(p for p in source.rglob("*") if p.is_file())
    want = int(megabytes * 1024 * 1024)
    size, round_ = 0, 0
    target.mkdir(parents=True, exist_ok=True)
    while size < want:
        for path in files:
            data = path.read_bytes()
            (target / f"r{round_:03d}-{path.parent.name}-{path.name}").write_bytes(data)
            size += len(data)
            if size >= want:
                break
        round_ += 1
    return size


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=64.0)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/bench/dev/docs")
    parser.add_argument("--no-cli", action="store_true", help="skip gitleaks/Kingfisher/CLI")
    parser.add_argument("--python-mb", type=float, default=16.0,
                        help="size of the prefix the slow pure-Python paths are timed on")
    args = parser.parse_args()

    from ticketscan_fastscan.engine import Engine
    from ticketscan_fastscan.rules import default_rules

    work = Path(tempfile.mkdtemp(prefix="fastscan-bench-"))
    try:
        big = work / "tickets.txt"
        size = build_corpus(args.corpus, big, args.mb)
        small = work / "tickets-small.txt"
        small.write_bytes(big.read_bytes()[: int(args.python_mb * 1024 * 1024)])
        small_size = small.stat().st_size
        mb, small_mb = size / 1e6, small_size / 1e6
        rows: list[tuple[str, float, float, int, str]] = []

        rules = default_rules()
        hs = Engine(rules, use_hyperscan=True)
        t, found = timed(lambda: hs.scan_file(big))
        note = f"{len(rules.rules)} rules"
        rows.append(("fastscan / hyperscan (engine)", mb, t, len(found), note))

        sparse = work / "sparse.txt"
        sparse_mb = build_sparse(args.corpus, sparse, args.mb, 20) / 1e6
        t, found = timed(lambda: hs.scan_file(sparse))
        rows.append(("fastscan / hyperscan, sparse secrets", sparse_mb, t, len(found),
                     "secrets kept in 1 doc in 20"))
        t, _ = timed(lambda: hs._db.scan(sparse.read_bytes(), match_event_handler=lambda *a: None,
                                         scratch=hs._scratch))
        rows.append(("  hyperscan prefilter pass alone", sparse_mb, t, -1, "lower bound"))

        py = Engine(rules, use_hyperscan=False)
        t, found = timed(lambda: py.scan_file(small))
        rows.append(("fastscan / pure Python (engine)", small_mb, t, len(found), "same rules"))

        compiled = [r.py for r in rules.rules if r.py is not None]
        data = small.read_bytes()
        t, n = timed(lambda: sum(1 for rx in compiled for _ in rx.finditer(data)))
        rows.append(("re baseline (regexes only)", small_mb, t, n, "no checks"))

        if not args.no_cli:
            folder = work / "docs"
            fsize = build_folder(args.corpus, folder, args.mb)
            fmb = fsize / 1e6
            nfiles = sum(1 for _ in folder.iterdir())
            env = dict(os.environ)
            gitleaks = shutil.which("gitleaks") or str(Path(sys.executable).parent / "gitleaks")
            if Path(gitleaks).exists():
                cmd = [gitleaks, "dir", str(folder), "--no-banner", "--report-format", "json",
                       "--report-path", str(work / "gl.json"), "--exit-code", "0"]
                t, _ = timed(lambda: subprocess.run(cmd, capture_output=True, check=False))
                rows.append(("gitleaks 8 CLI", fmb, t, -1, f"{nfiles} files, default config"))
                cmd = [gitleaks, "dir", str(sparse), "--no-banner", "--report-format", "json",
                       "--report-path", str(work / "gls.json"), "--exit-code", "0"]
                t, _ = timed(lambda: subprocess.run(cmd, capture_output=True, check=False))
                rows.append(("gitleaks 8 CLI, sparse secrets", sparse_mb, t, -1, "same file"))
            kingfisher = (shutil.which("kingfisher")
                          or str(Path(sys.executable).parent / "kingfisher"))
            if Path(kingfisher).exists():
                env["KF_RULE_CACHE_DIR"] = str(work / "kf-cache")
                cmd = [kingfisher, "scan", str(folder), "--no-validate", "--no-update-check", "-f",
                       "json", "-o", str(work / "kf.json"), "-q"]
                subprocess.run([kingfisher, "scan", str(small), "--no-validate",
                                "--no-update-check", "-f", "json", "-o", str(work / "kfw.json"),
                                "-q"], capture_output=True, check=False, env=env)  # warm-up
                t, _ = timed(lambda: subprocess.run(cmd, capture_output=True, check=False,
                                                    env=env))
                rows.append(("Kingfisher CLI", fmb, t, -1, f"{nfiles} files, --no-validate"))
                cmd = [kingfisher, "scan", str(sparse), "--no-validate", "--no-update-check",
                       "-f", "json", "-o", str(work / "kfs.json"), "-q"]
                t, _ = timed(lambda: subprocess.run(cmd, capture_output=True, check=False,
                                                    env=env))
                rows.append(("Kingfisher CLI, sparse secrets", sparse_mb, t, -1, "same file"))
            # the engine over the same documents as the CLIs above, as the scan step runs it:
            # documents shared out to one forked worker per CPU (setting `workers`)
            from ticketscan.components import ScanBatch, ScanInput
            from ticketscan_fastscan.scanner import FastScanner

            scanner = FastScanner(FastScanner.Settings())
            scanner.check()
            inputs = [ScanInput(p.name, p) for p in sorted(folder.iterdir())]
            batch = ScanBatch(root=folder, inputs=inputs, workdir=work)
            t, found = timed(lambda: list(scanner._scan(batch)))
            rows.append(("fastscan engine, same documents", fmb, t, len(found),
                         f"{nfiles} files, {os.cpu_count()} workers"))
            plain = [sys.executable, "-m", "ticketscan", "scan", str(folder), "--scanner",
                     "fastscan", "--out", str(work / "out0.jsonl")]
            off = {**env, "TICKETSCAN__PIPELINE__DECODE": "false"}
            t, _ = timed(lambda: subprocess.run(plain, capture_output=True, check=False, env=off))
            rows.append(("ticketscan scan --scanner fastscan", fmb, t, -1,
                         f"{nfiles} files, decoded views off (fetch of the folder included)"))
            ticketscan = [sys.executable, "-m", "ticketscan", "scan", str(folder), "--scanner",
                          "fastscan", "--out", str(work / "out.jsonl")]
            t, proc = timed(lambda: subprocess.run(ticketscan, capture_output=True, check=False))
            children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            note = (f"{nfiles} files, decoded views on (fetch of the folder included); "
                    f"peak child RSS {children:.0f} MB")
            if proc.returncode not in (0, 1):
                note = f"exit {proc.returncode}: {proc.stderr.decode()[-200:]}"
            rows.append(("ticketscan scan --scanner fastscan", fmb, t, -1, note))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    fast = rows[0][1] / rows[0][2]
    print(f"corpus: {mb:.1f} MB of ticket-like text built from {args.corpus} "
          "(engine rows: one concatenated file; CLI rows: the documents as files)")
    print(f"{'engine':38} {'MB':>7} {'seconds':>8} {'MB/s':>9} {'x fastscan':>10} "
          f"{'found':>7}  note")
    for name, m, t, n, note in rows:
        rate = m / t if t else float("inf")
        found = "-" if n < 0 else str(n)
        print(f"{name:38} {m:7.1f} {t:8.2f} {rate:9.1f} {rate / fast:10.3f} {found:>7}  {note}")
    by = {name: m / t for name, m, t, _, _ in rows}
    for other in ("gitleaks 8 CLI", "Kingfisher CLI"):
        if other in by:
            print(f"fastscan engine (one file) vs {other}: {fast / by[other]:.1f}x")
            sparse_other = f"{other}, sparse secrets"
            if sparse_other in by:
                ratio = by["fastscan / hyperscan, sparse secrets"] / by[sparse_other]
                print(f"fastscan engine vs {other}, sparse secrets (same file): {ratio:.1f}x")
            if "fastscan engine, same documents" in by:
                docs = by["fastscan engine, same documents"]
                print(f"fastscan engine (same documents) vs {other}: {docs / by[other]:.1f}x")
    _ = re  # the baseline uses the rules' compiled `re` patterns


if __name__ == "__main__":
    main()
