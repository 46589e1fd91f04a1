"""Receiver benchmarks (127.0.0.1 only, bounded in time).

1. Throughput and latency at 64 concurrent connections for signed Jira payloads: the receiver
   with the embedded queue, the receiver with NATS JetStream, and a minimal Starlette echo app,
   side by side in the same run (each server: one uvicorn process; load: ``wrk`` if installed,
   else an httpx async load generator).
2. End-to-end latency of the one-machine mode (``ticketscan serve``): webhook POST -> finding
   in the jsonl sink, over N events (a typical comment event, no attachments).

    .venv/bin/python bench/receiver.py [--seconds 10] [--runs 3] [--events 200] [--skip-e2e]

``--runs N`` repeats the throughput comparison N times (each run: every target in turn, same
server settings) and prints each run and then the medians: the machine may be shared and
noisy, the ratio to the echo app measured in the same run is what counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

SECRET = "bench-secret-0123456789"  # noqa: S105 - a benchmark fixture
BODY = json.dumps({
    "timestamp": 1717430400000, "webhookEvent": "comment_created",
    "comment": {"id": "10019", "body": "Please have a look at the export job, thanks! " * 8,
                "author": {"displayName": "Bench User"}},
    "issue": {"id": "10040", "key": "SUP-1", "fields": {"summary": "Export fails",
                                                        "project": {"key": "SUP"}}},
}).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, path: str = "/healthz", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on {port} did not come up")


# ------------------------------------------------------------------------------- servers


def serve(kind: str, port: int, extra: str) -> None:
    """Child process: run one server with uvicorn (one process, httptools + uvloop)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    if kind == "echo":
        async def echo(request: Request) -> JSONResponse:
            body = await request.body()
            return JSONResponse({"status": "accepted", "bytes": len(body)}, 202)

        async def health(request: Request) -> JSONResponse:
            return JSONResponse({"ok": True})

        app = Starlette(routes=[Route("/hooks/{source}", echo, methods=["POST"]),
                                Route("/healthz", health)])
    else:
        from ticketscan.plugins import make_plugin_manager
        from ticketscan.receiver import ReceiverSettings, create_app

        settings = ReceiverSettings.model_validate(
            {"sources": {"jira": {"auth": "jira-hmac", "secrets": [SECRET]}}})
        plugins = make_plugin_manager()
        if kind == "embedded":
            cls = plugins.transport("embedded")
            transport = cls(cls.Settings.model_validate({"path": extra}))
        else:
            cls = plugins.transport("nats")
            transport = cls(cls.Settings.model_validate(
                {"servers": [extra], "stream": "BENCH", "subject": "bench.events",
                 "dead_letter_stream": "BENCHDEAD", "dead_letter_subject": "bench.dead"}))
            transport.ping()
        app = create_app(transport, settings, ["jira"])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False,
                http="httptools", loop="uvloop")


def start_server(kind: str, extra: str = "") -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port),
                             "--extra", extra])
    wait_port(port)
    return proc, port


# ------------------------------------------------------------------------------------ load

WRK_LUA = """
local body = io.open("%(body)s", "rb"):read("*a")
local sig = "%(sig)s"
local n = 0
request = function()
  n = n + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["X-Hub-Signature"] = sig
  headers["X-Atlassian-Webhook-Identifier"] = string.format("bench-%%d-%%d", id or 0, n)
  return wrk.format("POST", "/hooks/jira", headers, body)
end
setup = function(thread) thread:set("id", math.random(1, 1000000000)) end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def load_wrk(port: int, seconds: int, connections: int, tmp: Path) -> dict[str, float]:
    from ticketscan.receiver import sign_jira

    body_file = tmp / "body.json"
    body_file.write_bytes(BODY)
    script = tmp / "load.lua"
    script.write_text(WRK_LUA % {"body": body_file, "sig": sign_jira(SECRET, BODY)})
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
         f"http://127.0.0.1:{port}"], capture_output=True, text=True, timeout=seconds + 60,
        check=True,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
    requests, errors, duration, p50, p99 = line.split()[1:]
    return {"rps": int(requests) / float(duration), "errors": int(errors),
            "p50_ms": float(p50), "p99_ms": float(p99)}


def load_httpx(port: int, seconds: int, connections: int, tmp: Path) -> dict[str, float]:
    import httpx
    from ticketscan.receiver import sign_jira

    sig = sign_jira(SECRET, BODY)
    latencies: list[float] = []
    errors = 0

    async def run() -> float:
        nonlocal errors
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as c:
            end = time.monotonic() + seconds
            counter = iter(range(10**9))

            async def one() -> None:
                nonlocal errors
                while time.monotonic() < end:
                    t = time.perf_counter()
                    r = await c.post("/hooks/jira", content=BODY, headers={
                        "Content-Type": "application/json", "X-Hub-Signature": sig,
                        "X-Atlassian-Webhook-Identifier": f"bench-{next(counter)}"})
                    latencies.append(time.perf_counter() - t)
                    errors += r.status_code != 202

            start = time.monotonic()
            await asyncio.gather(*(one() for _ in range(connections)))
            return time.monotonic() - start

    duration = asyncio.run(run())
    q = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / duration, "errors": errors, "p50_ms": q[49] * 1000,
            "p99_ms": q[98] * 1000}


# ------------------------------------------------------------------------------------ e2e


def end_to_end(events: int, rate: float, tmp: Path) -> dict[str, float]:
    from ticketscan.receiver import DEMO_JIRA_SECRET, sign_jira

    data = tmp / "one-machine"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETSCAN")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ticketscan", "--log-level", "warning", "serve", "--port",
         str(port), "--data", str(data)], cwd=tmp, env=env, stdout=subprocess.DEVNULL,
    )
    findings = data / "findings.jsonl"
    arrived: dict[str, float] = {}
    stop = threading.Event()

    def tail() -> None:
        offset = 0
        while not stop.is_set():
            if findings.is_file():
                with findings.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                complete = chunk[: chunk.rfind(b"\n") + 1]
                offset += len(complete)
                now = time.monotonic()
                for line in complete.splitlines():
                    key = json.loads(line)["ticket"]["key"]
                    arrived.setdefault(key, now)
            time.sleep(0.002)

    try:
        wait_port(port, "/readyz", timeout=60)
        watcher = threading.Thread(target=tail, daemon=True)
        watcher.start()
        sent: dict[str, float] = {}
        for i in range(events):
            key = f"E2E-{i}"
            secret_line = f"aws_access_key_id = AKIA{_key(i)}"
            body = json.dumps({
                "webhookEvent": "comment_created",
                "issue": {"key": key, "fields": {"summary": "Export fails",
                                                 "project": {"key": "E2E"}}},
                "comment": {"id": str(10000 + i), "body": f"Hi, config below:\n{secret_line}\n"},
            }).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/hooks/jira", data=body, method="POST",
                headers={"Content-Type": "application/json",
                         "X-Hub-Signature": sign_jira(DEMO_JIRA_SECRET, body),
                         "X-Atlassian-Webhook-Identifier": f"e2e-{i}-{time.time_ns()}"})
            sent[key] = time.monotonic()
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                assert response.status == 202
            time.sleep(1 / rate)
        deadline = time.monotonic() + 60
        while len(arrived) < events and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    latencies = sorted(arrived[k] - sent[k] for k in sent if k in arrived)
    q = statistics.quantiles(latencies, n=100)
    return {"events": events, "arrived": len(latencies), "p50_ms": q[49] * 1000,
            "p99_ms": q[98] * 1000, "max_ms": latencies[-1] * 1000}


def _key(i: int) -> str:
    """16 random characters of a fake AWS key id that core's suppression does not drop."""
    import random

    from ticketscan.suppress import suppression_reason

    rng = random.Random(i)
    while True:
        key = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        if suppression_reason("AKIA" + key) is None:
            return key


# ------------------------------------------------------------------------------------ main


def _table(rows: list[tuple[str, dict[str, float]]]) -> None:
    echo_rps = rows[0][1]["rps"]
    print(f"{'target':28} {'req/s':>9} {'% echo':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, r in rows:
        ratio = r.get("ratio", r["rps"] / echo_rps)
        print(f"{label:28} {r['rps']:9.0f} {100 * ratio:6.0f}% "
              f"{r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {int(r['errors']):7d}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve")
    parser.add_argument("--port", type=int)
    parser.add_argument("--extra", default="")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--runs", type=int, default=1, help="throughput runs (medians shown)")
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="e2e events per second")
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.extra)
        return
    tmp = Path(tempfile.mkdtemp(prefix="ticketscan-bench-receiver-"))
    load = load_wrk if shutil.which("wrk") else load_httpx
    print(f"# load generator: {'wrk' if load is load_wrk else 'httpx (async)'}, "
          f"{args.connections} connections, {args.seconds} s per target, cpus={os.cpu_count()}")
    nats_proc = None
    runs: list[list[tuple[str, dict[str, float]]]] = []
    try:
        targets = [("echo (minimal Starlette)", "echo", ""),
                   ("receiver + embedded", "embedded", str(tmp / "queue.db"))]
        nats = shutil.which("nats-server")
        if nats:
            nport = free_port()
            nats_proc = subprocess.Popen([nats, "-js", "-a", "127.0.0.1", "-p", str(nport),
                                          "-sd", str(tmp / "js")], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            time.sleep(0.3)
            targets.append(("receiver + nats", "nats", f"nats://127.0.0.1:{nport}"))
        for run in range(max(1, args.runs)):
            rows = []
            for label, kind, extra in targets:
                if kind == "embedded":
                    extra = str(tmp / f"queue-{run}.db")
                proc, port = start_server(kind, extra)
                try:
                    load(port, 2, args.connections, tmp)  # warm-up
                    rows.append((label, load(port, args.seconds, args.connections, tmp)))
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
            runs.append(rows)
            if args.runs > 1:
                print(f"\n## run {run + 1}")
                _table(rows)
    finally:
        if nats_proc is not None:
            nats_proc.terminate()
            nats_proc.wait(timeout=10)
    if args.runs > 1:
        print(f"\n## median of {len(runs)} runs (% echo: median of the per-run ratios)")
        medians = []
        for i, (label, _) in enumerate(runs[0]):
            per_run = [rows[i][1] for rows in runs]
            ratio = statistics.median(r["rps"] / rows[0][1]["rps"]
                                      for r, rows in zip(per_run, runs, strict=True))
            medians.append((label, {
                "rps": statistics.median(r["rps"] for r in per_run),
                "ratio": ratio,
                "p50_ms": statistics.median(r["p50_ms"] for r in per_run),
                "p99_ms": statistics.median(r["p99_ms"] for r in per_run),
                "errors": sum(int(r["errors"]) for r in per_run),
            }))
        _table(medians)
    else:
        _table(runs[0])
    if not args.skip_e2e:
        e2e = end_to_end(args.events, args.rate, tmp)
        print(f"\n# one-machine mode end to end (POST -> finding in jsonl), "
              f"{args.events} events at {args.rate:g}/s, "
              "one-machine defaults (fastscan; stdout+jsonl sinks)")
        print(f"{'events':>7} {'arrived':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        print(f"{e2e['events']:7d} {e2e['arrived']:8d} {e2e['p50_ms']:8.0f} "
              f"{e2e['p99_ms']:8.0f} {e2e['max_ms']:8.0f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
