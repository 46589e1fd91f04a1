"""Remediation time of one Zendesk ticket: 200 comments, N of them holding a planted fake key.

The fake Zendesk (tests/fakes/zendesk.py, real response shapes) serves the ticket; findings are
made the scan's way (the real zendesk source fetches, a stand-in scanner locates the planted
keys); the real zendesk-remediate sink then verifies and acts through zenpy over 127.0.0.1.
Measured: a dry run (reads + verification + plan) and a live run (redact every comment through
the Agent Workspace endpoint, re-read to verify, one internal note), then a second live run
(idempotent: reads only). Prints a table; run from the repo root:

    .venv/bin/python bench/zendesk_remediate.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.zendesk import FakeZendesk  # noqa: E402
from tests.plugins.zendesk_remediate.remediate_helpers import (  # noqa: E402
    EMAIL,
    TOKEN,
    aws_key,
    make_sink,
    publish,
    scan_ticket,
)

COMMENTS = 200


def one(secrets_count: int) -> list[str]:
    with FakeZendesk(email=EMAIL, token=TOKEN) as fake, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(fake.env())
        ticket = fake.add_ticket(subject="bench", description="the description")
        planted = {}
        for i in range(COMMENTS - 1):
            body = f"comment {i}\n" + "some words here. " * 20
            if i < secrets_count:
                planted[f"s{i}"] = aws_key()
                body += f"\naws_access_key_id = {planted[f's{i}']}\n"
            fake.add_comment(ticket, body=body, public=True)
        findings = scan_ticket(fake, ticket, planted, Path(tmp))
        rows = []
        for label, kwargs, dry in (
            ("dry run", {}, True),
            ("live", {"redact_comments": True, "internal_note": True}, False),
            ("live again", {"redact_comments": True, "internal_note": True}, False),
        ):
            fake.requests.clear()
            started = time.perf_counter()
            report = publish(make_sink(fake, **kwargs), findings, Path(tmp), dry_run=dry)
            took = time.perf_counter() - started
            assert report.ok, report.failed
            writes = sum(r.method != "GET" for r in fake.requests)
            rows.append(
                f"| {secrets_count:>8} | {label:<10} | {took * 1000:>8.0f} ms | "
                f"{len(fake.requests) - writes:>5} | {writes:>6} |"
            )
        assert not any(s in c["body"] for c in fake.comments[ticket] for s in planted.values())
        return rows


def main() -> None:
    print(f"ticket of {COMMENTS} comments on the fake Zendesk (127.0.0.1), zenpy client")
    print("| findings | run        |      time | reads | writes |")
    print("|---------:|------------|----------:|------:|-------:|")
    for n in (1, 10, 50):
        for row in one(n):
            print(row)


if __name__ == "__main__":
    main()
