"""Fetch time of one Zendesk ticket with 200 comments and 20 attachments (10 MB in total).

The ticket is served by the local fake Zendesk (tests/fakes/zendesk.py, real response shapes)
and fetched by the real plugin through zenpy, over HTTP on 127.0.0.1, into a documents folder
(attachments streamed to disk, then decoded by core). Prints a table; run from the repo root:

    .venv/bin/python bench/zendesk_fetch.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ticketscan.steps import fetch_event  # noqa: E402
from ticketscan_zendesk.source import ZendeskSource  # noqa: E402

from tests.fakes.zendesk import FakeZendesk  # noqa: E402

EMAIL, TOKEN = "bench@example.com", "bench-token-0000000000"
COMMENTS, ATTACHMENTS, TOTAL_BYTES = 200, 20, 10 * 1024 * 1024


def text_blob(size: int, rng: random.Random) -> bytes:
    line = "".join(rng.choices(string.ascii_letters + string.digits + " =:/", k=99)) + "\n"
    return (line * (size // len(line) + 1)).encode()[:size]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(7)
    per_file = TOTAL_BYTES // ATTACHMENTS
    with FakeZendesk(email=EMAIL, token=TOKEN) as fake:
        os.environ.update(fake.env())
        ticket = fake.add_ticket(subject="bench", description="the description\n" * 20)
        for i in range(COMMENTS - 1):
            attachments = []
            if i % 10 == 0 and len(fake.attachments) < ATTACHMENTS:
                attachments = [(f"log-{i}.txt", text_blob(per_file, rng), "text/plain")]
            fake.add_comment(
                ticket,
                body=f"comment {i}\n" + "some words here. " * 30,
                public=i % 3 != 0,
                attachments=attachments,
            )
        size = sum(len(a.content) for a in fake.attachments.values())
        timings = []
        for _ in range(args.runs):
            source = ZendeskSource(ZendeskSource.Settings(url=fake.url, email=EMAIL, token=TOKEN))
            event = source.parse_event(
                {
                    "source": "zendesk",
                    "type": "ticketscan:zendesk-trigger",
                    "ticket_id": str(ticket),
                },
                {},
            )
            event.delivery_id = "bench"
            with tempfile.TemporaryDirectory() as tmp:
                fake.requests.clear()
                started = time.perf_counter()
                manifest = fetch_event(source, event, Path(tmp) / "docs")
                timings.append(time.perf_counter() - started)
        requests = len(fake.requests)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"zendesk fetch: {len(fake.comments[ticket])} comments, "
        f"{len(fake.attachments)} attachments "
        f"({size / 1e6:.1f} MB), {args.runs} runs, fake Zendesk on 127.0.0.1 via zenpy"
    )
    print(f"| {'metric':<32} | {'value':>12} |")
    print(f"|{'-' * 34}|{'-' * 14}|")
    rows = [
        ("documents written", f"{len(manifest.documents)}"),
        ("skipped parts", f"{len(manifest.skipped)}"),
        ("HTTP requests per fetch", f"{requests}"),
        ("fetch time, median (s)", f"{statistics.median(timings):.3f}"),
        ("fetch time, min (s)", f"{min(timings):.3f}"),
        ("fetch time, max (s)", f"{max(timings):.3f}"),
        ("throughput, median (MB/s)", f"{size / 1e6 / statistics.median(timings):.1f}"),
        ("peak RSS of this process (MB)", f"{rss:.0f}"),
    ]
    for name, value in rows:
        print(f"| {name:<32} | {value:>12} |")


if __name__ == "__main__":
    main()
