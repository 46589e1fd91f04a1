#!/usr/bin/env python3
"""Scanner benchmark: quality and speed of every engine alone and merged, side by side, in one run.

    .venv/bin/python bench/scanners.py [--shared DIR] [--big-mb 100] [--out docs/benchmarks.md]

For each configuration (each scanner alone, then merged sets) it runs the real CLI exactly as
an Argo step would -- ``ticketscan scan <folder> --scanner X [--scanner Y ...] --out f.jsonl``
-- and measures:

* on ``../shared/bench/dev``: precision / recall / F1 and hard negatives reported, with the
  shared scorer (``score.py --format ticketscan --json``);
* throughput (MB/s of corpus per wall second of the whole ``scan`` step, fetch of the plain
  folder included) and peak RSS: of ticketscan's own process, and of the whole process tree
  (ticketscan + every scanner process + every engine), sampled from /proc every 20 ms;
* on a ~100 MB corpus made by tiling ``dev/docs`` into a temp folder (the corpus ships no
  generator script): the same speed numbers. detect-secrets (~0.3 MB/s) runs on a slice there,
  and the table says so;
* for merged sets: the ``scan`` step's wall time against its slowest engine (each engine's
  own time is taken from the step's log line ``scanner X: ... in S s``).

trufflehog is skipped: no genuine binary can be installed on these machines.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    label: str
    scanners: list[str]
    corpus: str
    mb: float
    wall: float = 0.0
    own_rss_mb: float = 0.0
    tree_rss_mb: float = 0.0
    engines: dict[str, float] = field(default_factory=dict)
    findings: int = 0
    error: str | None = None
    score: dict[str, object] | None = None

    @property
    def mbps(self) -> float:
        return self.mb / self.wall if self.wall else 0.0


def corpus_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def _tree(root_pid: int) -> dict[int, int]:
    """pid -> rss pages of root_pid and all its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        parents[int(name)] = int(fields[1])
        rss[int(name)] = int(fields[21])
    members = {root_pid}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in members and pid not in members:
                members.add(pid)
                changed = True
    return {pid: rss.get(pid, 0) for pid in members}


def run_scan(run: Run, folder: Path, out: Path, env: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "ticketscan", "--log-level", "info", "scan", str(folder)]
    for name in run.scanners:
        argv += ["--scanner", name]
    argv += ["--out", str(out), "--allow-partial"]
    page_mb = os.sysconf("SC_PAGE_SIZE") / 1e6
    with tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
        own = tree = 0
        while proc.poll() is None:
            pages = _tree(proc.pid)
            own = max(own, pages.get(proc.pid, 0))
            tree = max(tree, sum(pages.values()))
            time.sleep(0.02)
        run.wall = time.monotonic() - started
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    run.own_rss_mb = own * page_mb
    run.tree_rss_mb = tree * page_mb
    for name, secs in re.findall(r"scanner (\S+): \d+ detections .*? in ([\d.]+) s", stderr):
        run.engines[name] = float(secs)
    failed = re.findall(r"scanner (\S+) failed: (.*)", stderr)
    if proc.returncode != 0 or failed:
        run.error = "; ".join(f"{n}: {m[:120]}" for n, m in failed) or stderr.strip()[-300:]
    if out.is_file():
        run.findings = sum(1 for _ in out.open())


def fetch(folder: Path, out: Path, env: dict[str, str]) -> Path:
    """``ticketscan fetch`` of a plain folder (the files source): the scan step's input."""
    event = out.with_suffix(".event.json")
    event.write_text(json.dumps({"source": "files", "ticket": "BENCH-1", "paths": [str(folder)]}))
    subprocess.run(
        [sys.executable, "-m", "ticketscan", "--log-level", "warning", "fetch", "--event",
         str(event), "--out", str(out)],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )
    return out


def score(scorer: Path, labels: Path, findings: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, str(scorer), "--labels", str(labels), "--findings", str(findings),
         "--format", "ticketscan", "--json"],
        capture_output=True, text=True, check=True,
    )
    data = json.loads(proc.stdout)
    return data.get("summary", data) if isinstance(data, dict) else {}


def tile(src: Path, dest: Path, target_mb: float) -> float:
    size = corpus_mb(src)
    copies = max(1, round(target_mb / size))
    for i in range(copies):
        shutil.copytree(src, dest / f"copy{i:03d}")
    return corpus_mb(dest)


def pct(value: object) -> str:
    return f"{100 * float(value):.1f}" if isinstance(value, (int, float)) else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--big-mb", type=float, default=100.0)
    parser.add_argument("--slow-slice-mb", type=float, default=6.5,
                        help="corpus size for detect-secrets' big-corpus row")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    dev = args.shared / "bench" / "dev"
    scorer = args.shared / "bench" / "score.py"

    env = {k: v for k, v in os.environ.items() if k != "TICKETSCAN_CONFIG"}
    alone = ["detect-secrets", "gitleaks", "kingfisher"]
    if find_spec("ticketscan_fastscan") is not None:
        alone.append("fastscan")
    fast = [s for s in alone if s != "detect-secrets"]
    sets = {"merged: all engines": alone, "merged: " + "+".join(fast): fast}
    default = [s for s in ("fastscan", "kingfisher") if s in alone]
    sets["default set: " + "+".join(default)] = default

    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="ticketscan-bench-") as tmpname:
        tmp = Path(tmpname)
        dev_mb = corpus_mb(dev / "docs")
        # the scan step reads what the fetch step wrote: fetch each corpus once, untimed
        docs = fetch(dev / "docs", tmp / "dev-documents", env)
        # warm-up (Kingfisher compiles its rule cache once; page cache)
        run_scan(Run("warm-up", fast, "dev", dev_mb), docs, tmp / "warm.jsonl", env)
        for label, names in [(n, [n]) for n in alone] + list(sets.items()):
            run = Run(label, names, "dev", dev_mb)
            out = tmp / f"dev-{len(runs)}.jsonl"
            run_scan(run, docs, out, env)
            if out.is_file():
                run.score = score(scorer, dev, out)
            runs.append(run)
            print(f"dev  {label:32} {run.wall:7.1f} s  {run.findings} findings", flush=True)
        big = tmp / "big"
        big_mb = tile(dev / "docs", big, args.big_mb)
        slice_dir = tmp / "slice"
        slice_mb = tile(dev / "docs", slice_dir, args.slow_slice_mb)
        big = fetch(big, tmp / "big-documents", env)
        slice_dir = fetch(slice_dir, tmp / "slice-documents", env)
        for label, names in [(n, [n]) for n in alone] + [(k, v) for k, v in sets.items()
                                                         if "detect-secrets" not in v]:
            folder, mb = (slice_dir, slice_mb) if "detect-secrets" in names else (big, big_mb)
            run = Run(label, names, "big" if folder is big else "slice", mb)
            run_scan(run, folder, tmp / f"big-{len(runs)}.jsonl", env)
            runs.append(run)
            print(f"big  {label:32} {run.wall:7.1f} s  {run.mbps:6.2f} MB/s", flush=True)

    table = render(runs, dev_mb, big_mb, slice_mb)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    return 0


def render(runs: list[Run], dev_mb: float, big_mb: float, slice_mb: float) -> str:
    lines = [
        "# Scanner benchmarks",
        "",
        "Reproduce (one run, every engine side by side; ~10 minutes on 2 cores):",
        "",
        "```bash",
        ".venv/bin/python bench/scanners.py        # writes this file",
        "```",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}. Every number comes from "
        "the real CLI: each corpus is fetched once with `ticketscan fetch` (the files source), "
        "then `ticketscan scan <documents> --scanner X ... --out f.jsonl` is timed as a whole "
        "(plugin loading, decoding — which overlaps the engines' first pass —, scanners, merge, "
        "output). MB/s is corpus MB over that wall time. trufflehog is not measured: no genuine "
        "binary can be installed on these machines.",
        "",
        f"## Quality on ../shared/bench/dev ({dev_mb:.1f} MB, scorer `score.py --format "
        "ticketscan`, strict matching)",
        "",
        "| configuration | findings | TP | FP | FN | precision % | recall % | F1 % "
        "| hard negatives reported | MB/s | step s | slowest engine s | own RSS MB "
        "| tree RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in (r for r in runs if r.corpus == "dev"):
        s = run.score or {}
        slowest = max(run.engines.values()) if run.engines else 0.0
        negs = f"{s.get('hard_negatives_reported', '-')} / {s.get('negatives', '-')}"
        lines.append(
            f"| {run.label} | {run.findings} | {s.get('tp', '-')} | {s.get('fp', '-')} "
            f"| {s.get('fn', '-')} | {pct(s.get('precision'))} | {pct(s.get('recall'))} "
            f"| {pct(s.get('f1'))} | {negs} | {run.mbps:.2f} | {run.wall:.1f} | {slowest:.1f} "
            f"| {run.own_rss_mb:.0f} | {run.tree_rss_mb:.0f} |"
            + (f" (error: {run.error})" if run.error else "")
        )
    lines += [
        "",
        f"## Speed on a {big_mb:.0f} MB corpus (dev/docs tiled into a temp folder)",
        "",
        f"detect-secrets runs on a {slice_mb:.1f} MB slice (one copy of dev/docs): at its "
        "speed the full corpus would take over five minutes.",
        "",
        "| configuration | corpus MB | step s | MB/s | engine s (own time) "
        "| step / slowest engine | own RSS MB | tree RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in (r for r in runs if r.corpus != "dev"):
        slowest = max(run.engines.values()) if run.engines else 0.0
        engines = ", ".join(f"{k} {v:.1f}" for k, v in sorted(run.engines.items()))
        ratio = f"{run.wall / slowest:.2f}" if slowest else "-"
        lines.append(
            f"| {run.label} | {run.mb:.1f} | {run.wall:.1f} | {run.mbps:.2f} | {engines} "
            f"| {ratio} | {run.own_rss_mb:.0f} | {run.tree_rss_mb:.0f} |"
            + (f" (error: {run.error})" if run.error else "")
        )
    lines += [
        "",
        "*own RSS*: peak resident memory of the `ticketscan` process itself; *tree RSS*: peak "
        "of the sum over ticketscan, its scanner processes and the engines they run. *engine "
        "s*: each scanner's time from the step's log, from the start of its first process to "
        "the end of its last (documents, then decoded views); the step's wall time adds start-up, "
        "linking the inputs, merging and writing the findings.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
