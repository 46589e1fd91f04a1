"""Sink throughput: findings/s to a real rsyslogd (TCP, CEF) and to a fake Splunk HEC (batched),
and the publish step's wall time for 10,000 findings.

    .venv/bin/python bench/sinks.py [--findings 10000]

Starts rsyslogd and the fake HEC itself (on 127.0.0.1), like the tests do.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "plugins" / "siem"))

from siem_fakehttp import FakeServer, json_response  # noqa: E402
from siem_rsyslogd import start_rsyslog, stop_rsyslog  # noqa: E402
from ticketscan.components import PublishContext  # noqa: E402
from ticketscan.config import load_config  # noqa: E402
from ticketscan.delivery import DeliverySettings  # noqa: E402
from ticketscan.models import Finding  # noqa: E402
from ticketscan.plugins import make_plugin_manager  # noqa: E402
from ticketscan.steps import publish  # noqa: E402
from ticketscan.testing import sample_findings  # noqa: E402
from ticketscan_siem.hec import SplunkHecSink  # noqa: E402
from ticketscan_siem.syslog import SyslogSink  # noqa: E402


def findings(n: int) -> list[Finding]:
    out: list[Finding] = []
    for i in range(n):
        base = sample_findings(f"SEC-{i // 3}")[i % 3]
        out.append(base.model_copy(update={"id": f"{base.id[:20]}{i:012d}"}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=10_000)
    args = parser.parse_args()
    data = findings(args.findings)
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        server = start_rsyslog(tmp / "rsyslog")
        try:
            sink = SyslogSink(SyslogSink.Settings(port=server.tcp_port, protocol="tcp"))
            started = time.perf_counter()
            report = sink.publish(data, PublishContext(out_dir=tmp))
            sink.close()
            sent = time.perf_counter() - started
            server.wait_for(len(data), timeout=120)
            landed = time.perf_counter() - started
            assert report.ok
            rows.append(("syslog TCP -> rsyslogd (CEF, batch 200)",
                         f"{len(data) / sent:,.0f} sent/s",
                         f"{len(data) / landed:,.0f}/s written by rsyslogd"))
        finally:
            stop_rsyslog(server)
        hec = FakeServer(lambda req: json_response(200, {"text": "Success", "code": 0})).start()
        try:
            for batch, gz in ((100, True), (100, False), (500, True)):
                hec.requests.clear()
                sink = SplunkHecSink(SplunkHecSink.Settings.model_validate(
                    {"url": hec.url, "token": "bench", "gzip": gz}))
                started = time.perf_counter()
                report = sink.publish(data, PublishContext(
                    out_dir=tmp, delivery=DeliverySettings(batch_size=batch)))
                took = time.perf_counter() - started
                sink.close()
                assert report.ok
                rows.append((f"splunk-hec fake (batch {batch}, gzip {'on' if gz else 'off'})",
                             f"{len(data) / took:,.0f} findings/s",
                             f"{len(hec.requests)} requests"))
        finally:
            hec.stop()
        config = load_config(env={})
        config.data["sinks"] = {"jsonl": {"path": "bench.jsonl"}, "sarif": {"path": "b.sarif"}}
        config.data["state"] = {"store": "sqlite", "sqlite": {"path": str(tmp / "state.db")}}
        plugins = make_plugin_manager()
        steps = (
            ("publish step: jsonl, sqlite alert-once", ["jsonl"]),
            ("publish step: jsonl + sarif, sqlite alert-once", ["jsonl", "sarif"]),
            ("publish step again (all already alerted)", ["jsonl", "sarif"]),
        )
        for label, sinks in steps:
            started = time.perf_counter()
            out = tmp / f"out-{len(rows)}"
            if "again" not in label:  # a fresh state store: everything alerts
                for stale in tmp.glob("state.db*"):
                    stale.unlink()
            report_ = publish(plugins, config, data, sinks, out)
            took = time.perf_counter() - started
            delivered = sum(len(r.delivered) for r in report_.sinks.values())
            rows.append((label, f"{took:.2f} s wall for {len(data):,}",
                         f"{delivered:,} deliveries"))
    width = max(len(r[0]) for r in rows)
    print(f"{'what':{width}}  {'rate / time':>26}  note")
    print("-" * (width + 60))
    for what, rate, note in rows:
        print(f"{what:{width}}  {rate:>26}  {note}")


if __name__ == "__main__":
    main()
