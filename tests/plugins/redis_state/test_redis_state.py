"""redis state store against a real redis-server started on a free port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ticketscan.components import PublishContext, Sink
from ticketscan.delivery import AlertRecord
from ticketscan.models import SinkReport
from ticketscan.plugins import make_plugin_manager
from ticketscan.testing import sample_findings
from ticketscan_redis_state.store import RedisStateStore

pytestmark = pytest.mark.integration


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: apt-get install -y redis-server")
    port = _port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(tmp_path),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(5)


class Counter(Sink):
    name = "counter"

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def _publish(self, findings, context: PublishContext, report: SinkReport) -> None:  # type: ignore[no-untyped-def]
        self.sent += len(findings)


def _store(url: str, **kw: object) -> RedisStateStore:
    return RedisStateStore(RedisStateStore.Settings.model_validate({"url": url, **kw}))


def test_is_registered() -> None:
    assert "redis" in make_plugin_manager().names("state_store")


def test_records_round_trip(redis_url: str) -> None:
    store = _store(redis_url)
    store.put([AlertRecord("slack|jira|SEC-1|abc", 1.5, 2.5, "true", 2)])
    assert store.get(["slack|jira|SEC-1|abc", "missing"]) == {
        "slack|jira|SEC-1|abc": AlertRecord("slack|jira|SEC-1|abc", 1.5, 2.5, "true", 2)
    }
    store.close()


def test_two_workers_share_alert_once(redis_url: str, tmp_path: Path) -> None:
    worker_a, worker_b = _store(redis_url), _store(redis_url)
    first, second = Counter(), Counter()
    first.publish(sample_findings(), PublishContext(out_dir=tmp_path, state=worker_a))
    report = second.publish(sample_findings(), PublishContext(out_dir=tmp_path, state=worker_b))
    assert first.sent == 3 and second.sent == 0 and len(report.suppressed) == 3


def test_ttl_expires_alerts(redis_url: str) -> None:
    import redis

    store = _store(redis_url, ttl_days=1)
    store.put([AlertRecord("k", 1.0, 1.0, "unknown")])
    ttl = redis.Redis.from_url(redis_url).ttl("ticketscan:alert:k")
    assert 86000 < ttl <= 86400


def test_unreachable_redis_fails_closed(tmp_path: Path) -> None:
    store = _store(f"redis://127.0.0.1:{_port()}/0", timeout=0.5)
    sink = Counter()
    report = sink.publish(sample_findings(), PublishContext(out_dir=tmp_path, state=store))
    assert sink.sent == 0 and report.error and "state store redis" in report.error
