"""fastscan's parallel path (documents split across forked workers) finds exactly what the
serial path finds."""

from __future__ import annotations

import random
import string
from pathlib import Path

from ticketscan.config import load_config
from ticketscan.documents import DocumentWriter
from ticketscan.models import Part, TicketEvent, TicketRef
from ticketscan.plugins import make_plugin_manager
from ticketscan.steps import scan


def _aws_id(rnd: random.Random) -> str:
    return "AKIA" + "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))


def _docs(tmp_path: Path) -> tuple[Path, set[str]]:
    rnd = random.Random(7)
    event = TicketEvent(system="files", event_type="t", delivery_id="p",
                        ticket=TicketRef(system="files", key="PAR-1"))
    writer = DocumentWriter(tmp_path / "docs", event)
    planted: set[str] = set()
    filler = " ".join("".join(rnd.choice(string.ascii_lowercase) for _ in range(7))
                      for _ in range(12))
    for n in range(6):  # 6 documents, ~3.6 MB: above the parallel threshold
        lines = []
        for i in range(8000):
            if i % 997 == 0:
                key = _aws_id(rnd)
                planted.add(key)
                lines.append(f"aws_access_key_id = {key}")
            else:
                lines.append(f"{filler} {i}")
        writer.add_text(part=Part.ATTACHMENT, path=f"PAR-1/attachment/{n}.log",
                        text="\n".join(lines) + "\n")
    writer.close()
    return tmp_path / "docs", planted


def _run(docs: Path, workers: int) -> list[str]:
    config = load_config(env={})
    config.data.setdefault("scanners", {})["fastscan"] = {"workers": workers}
    config.pipeline.decode = False
    outcome = scan(make_plugin_manager(), config, docs, ["fastscan"])
    return sorted(f.model_dump_json() for f in outcome.findings)


def test_parallel_equals_serial(tmp_path: Path) -> None:
    docs, planted = _docs(tmp_path)
    serial, parallel = _run(docs, 1), _run(docs, 2)
    assert parallel == serial
    assert len(serial) == len(planted)
