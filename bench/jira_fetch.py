"""Fetch time of one Jira ticket with 200 comments and 20 attachments (10 MB in total).

The ticket is served by the local fake Jira (tests/fakes/jira.py, real response shapes, pages
of at most 50 comments, Cloud downloads through a 303 redirect) and fetched by the real plugin
through atlassian-python-api over HTTP on 127.0.0.1 into a documents folder (attachments
streamed to disk in chunks, then decoded by core). Both flavors: Cloud (REST v3, ADF) and Data
Center (REST v2, wiki markup). Run from the repo root:

    .venv/bin/python bench/jira_fetch.py [--runs 5] [--shared ../shared] [--big-mb 500]

Then the peak RSS of a fresh process fetching (and core extracting) one ticket with a single
``--big-mb`` MB text attachment, the fake running in another process (0 skips it).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fakes.jira import FakeJira  # noqa: E402
from ticketscan.steps import fetch_event  # noqa: E402
from ticketscan_jira.source import JiraSettings, JiraSource  # noqa: E402

COMMENTS = 200
ATTACHMENTS = 20
TOTAL_BYTES = 10 * 1024 * 1024


def _text(rng: random.Random, size: int) -> bytes:
    line_chars = string.ascii_letters + string.digits + " =:_-"
    lines = []
    length = 0
    while length < size:
        line = "".join(rng.choice(line_chars) for _ in range(rng.randint(20, 100)))
        lines.append(line)
        length += len(line) + 1
    return ("\n".join(lines)[:size]).encode()


def build(fake: FakeJira) -> None:
    rng = random.Random(42)
    fake.add_issue("BENCH-1", summary="Benchmark ticket",
                   description="A long description\n" * 50, environment="prod")
    for i in range(COMMENTS):
        fake.add_comment("BENCH-1", f"comment {i}\n" + _text(rng, 600).decode())
    block = _text(rng, TOTAL_BYTES // ATTACHMENTS)
    for i in range(ATTACHMENTS):
        fake.add_attachment("BENCH-1", f"log-{i}.txt", block)


def run(flavor: str, shared: Path, runs: int) -> dict[str, float]:
    with FakeJira(shared / "fixtures", flavor=flavor, max_page=50) as fake:
        build(fake)
        values = {"url": fake.url, "flavor": flavor, "token": fake.token}
        if flavor == "cloud":
            values["email"] = fake.email
        source = JiraSource(JiraSettings.model_validate(values))
        event = source.parse_event({"webhookEvent": "jira:issue_created",
                                    "issue": {"id": "1", "key": "BENCH-1"}},
                                   {"x-atlassian-webhook-identifier": "bench"})
        times = []
        docs = 0
        for _ in range(runs):
            fake.requests.clear()
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                manifest = fetch_event(source, event, Path(tmp) / "docs")
                times.append(time.perf_counter() - started)
                docs = len(manifest.documents)
        return {"median": statistics.median(times), "min": min(times), "max": max(times),
                "documents": docs, "requests": len(fake.requests)}


def _serve_big(shared: str, size_mb: int, out: multiprocessing.Queue,  # type: ignore[type-arg]
               done: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with FakeJira(Path(shared) / "fixtures", flavor="cloud") as fake:
        fake.add_issue("BIG-1", summary="big attachment")
        line = b"2026-01-01T00:00:00Z INFO request served in 12 ms by worker-7 path=/api/v1/x\n"
        blob = line * (size_mb * 1024 * 1024 // len(line))
        fake.add_attachment("BIG-1", "huge.log", blob)
        del blob
        out.put((fake.url, fake.email, fake.token))
        done.get()  # wait until the fetch is done


def _fetch_big(url: str, email: str, token: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    source = JiraSource(JiraSettings.model_validate(
        {"url": url, "flavor": "cloud", "email": email, "token": token,
         "max_attachment_bytes": 2**40}))
    event = source.parse_event({"webhookEvent": "jira:issue_created",
                                "issue": {"id": "1", "key": "BIG-1"}})
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        manifest = fetch_event(source, event, Path(tmp) / "docs")
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    skipped = "; ".join(f"{s.path}: {s.reason}" for s in manifest.skipped)
    queue.put((seconds, peak, len(manifest.documents), skipped))


def big(shared: Path, size_mb: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    to_server: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    from_server: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    server = ctx.Process(target=_serve_big, args=(str(shared), size_mb, from_server,
                                                             to_server))
    server.start()
    url, email, token = from_server.get(timeout=300)
    results: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    fetcher = ctx.Process(target=_fetch_big, args=(url, email, token, results))
    fetcher.start()
    seconds, peak, docs, skipped = results.get(timeout=1800)
    fetcher.join()
    to_server.put("done")
    server.join(timeout=30)
    print(f"\none {size_mb} MB text attachment (cloud, 303 redirect, streamed in 256 KB chunks):")
    print(f"  fetch + extract: {seconds:.1f} s, {size_mb / seconds:.0f} MB/s, {docs} documents,"
          f" peak RSS of the fetching process {peak:.0f} MB")
    if skipped:
        print(f"  skipped: {skipped}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    shared = os.environ.get("TICKETSCAN_SHARED_DIR", str(REPO.parent / "shared"))
    parser.add_argument("--shared", type=Path, default=Path(shared))
    parser.add_argument("--big-mb", type=int, default=500)
    args = parser.parse_args()
    print(f"Jira fetch: 1 ticket, {COMMENTS} comments, {ATTACHMENTS} attachments "
          f"({TOTAL_BYTES / 2**20:.0f} MB), fake Jira on 127.0.0.1, {args.runs} runs")
    print(f"{'flavor':<22} {'median s':>9} {'min s':>7} {'max s':>7} {'docs':>5} {'requests':>9}"
          f" {'MB/s':>6}")
    for flavor, label in (("cloud", "cloud (v3, ADF)"), ("server", "data center (v2, wiki)")):
        r = run(flavor, args.shared, args.runs)
        print(f"{label:<22} {r['median']:>9.3f} {r['min']:>7.3f} {r['max']:>7.3f} "
              f"{int(r['documents']):>5} {int(r['requests']):>9} "
              f"{TOTAL_BYTES / 2**20 / r['median']:>6.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (fake server included): {peak:.0f} MB")
    if args.big_mb:
        big(args.shared, args.big_mb)


if __name__ == "__main__":
    main()
