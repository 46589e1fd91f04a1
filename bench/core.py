#!/usr/bin/env python3
"""Core benchmarks (issue 2): start-up time of short commands, and detect-secrets on the dev corpus.

    .venv/bin/python bench/core.py [--runs 15] [--shared ../shared] [--skip-quality]

Start-up: `ticketscan --help` and `ticketscan plugins` against `python -c "import pydantic"`,
interleaved in one run (median and p90 of N fresh processes each). Every Argo step starts a fresh
process, so this is the fixed cost of each step.

Quality: `ticketscan scan <dev>/docs --scanner detect-secrets`, scored with the corpus's own
scorer (precision, recall, F1), and its throughput in MB/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _time(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - started


def startup(runs: int) -> list[tuple[str, float, float]]:
    ticketscan = str(Path(sys.executable).with_name("ticketscan"))
    commands = {
        'python -c "import pydantic"': [sys.executable, "-c", "import pydantic"],
        "ticketscan --help": [ticketscan, "--help"],
        "ticketscan plugins": [ticketscan, "plugins"],
    }
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for cmd in commands.values():  # warm the page cache once
        _time(cmd)
    for _ in range(runs):
        for name, cmd in commands.items():
            samples[name].append(_time(cmd))
    rows = []
    for name, values in samples.items():
        values.sort()
        rows.append((name, statistics.median(values), values[int(0.9 * (len(values) - 1))]))
    return rows


def quality(shared: Path) -> dict[str, object]:
    dev = shared / "bench" / "dev"
    docs = dev / "docs"
    size = sum(p.stat().st_size for p in docs.rglob("*") if p.is_file())
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ds.jsonl"
        started = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).with_name("ticketscan")),
                "--log-level",
                "warning",
                "scan",
                str(docs),
                "--scanner",
                "detect-secrets",
                "--out",
                str(out),
            ],
            check=True,
        )
        seconds = time.perf_counter() - started
        scored = subprocess.run(
            [
                sys.executable,
                str(shared / "bench" / "score.py"),
                "--labels",
                str(dev),
                "--findings",
                str(out),
                "--format",
                "ticketscan",
                "--json",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    data = json.loads(scored.stdout)
    overall = data.get("overall", data)
    return {"seconds": seconds, "mb": size / 1e6, "mb_s": size / 1e6 / seconds, "score": overall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()

    print(f"## Start-up ({args.runs} fresh processes each, interleaved)\n")
    print("| command | median ms | p90 ms |\n|---|---:|---:|")
    for name, median, p90 in startup(args.runs):
        print(f"| `{name}` | {median * 1000:.0f} | {p90 * 1000:.0f} |")
    if args.skip_quality:
        return
    result = quality(args.shared)
    score = result["score"]
    assert isinstance(score, dict)
    print("\n## detect-secrets through `ticketscan scan` on bench/dev\n")
    print("| precision | recall | F1 | hard negatives reported | MB | seconds | MB/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")

    def pct(key: str) -> str:
        value = score.get(key)
        return f"{100 * value:.1f}%" if isinstance(value, float) else str(value)

    print(
        f"| {pct('precision')} | {pct('recall')} | {pct('f1')} | "
        f"{score.get('hard_negatives_reported', score.get('fp_hard', '?'))} | "
        f"{result['mb']:.1f} | {result['seconds']:.1f} | {result['mb_s']:.2f} |"
    )


if __name__ == "__main__":
    main()
