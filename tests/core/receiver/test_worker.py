"""The worker: ack after success, retry a transient failure, dead-letter a poison event."""

from __future__ import annotations

import json
import types
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest
from ticketscan import hookimpl
from ticketscan.builtins.embedded import EmbeddedTransport
from ticketscan.components import ComponentSettings, Message, PublishContext, Sink
from ticketscan.config import load_config
from ticketscan.models import Finding, SinkReport
from ticketscan.plugins import PluginInfo, make_plugin_manager
from ticketscan.testing import assert_no_secrets
from ticketscan.worker import Worker, WorkerSettings

AWS_KEY = "AKIAQ3EGRTZ5LMNB7XKW"
EVENT = {
    "webhookEvent": "comment_created",
    "issue": {"key": "SUP-7", "fields": {"project": {"key": "SUP"}}},
    "comment": {"id": "10001", "body": f"here is the key: aws_access_key_id = {AWS_KEY}"},
}


class FlakySink(Sink):
    """Fails while its flag file exists (a transient outage), then delivers."""

    name = "flaky"
    calls: ClassVar[list[int]] = []

    class Settings(ComponentSettings):
        flag: str = ""

    def _publish(self, findings: Sequence[Finding], context: PublishContext,
                 report: SinkReport) -> None:
        FlakySink.calls.append(len(findings))
        if Path(self.settings.flag).exists():  # type: ignore[attr-defined]
            raise RuntimeError("sink is down")


def _plugins():
    module = types.ModuleType("flaky_plugin")
    module.ticketscan_api_version = ">=1,<2"  # type: ignore[attr-defined]

    @hookimpl
    def register_sinks(register) -> None:  # type: ignore[no-untyped-def]
        register(FlakySink, name="flaky")

    module.register_sinks = register_sinks  # type: ignore[attr-defined]
    info = PluginInfo(key="flaky", module="flaky_plugin", distribution="test", version="0")
    return make_plugin_manager(extra=[(module, info)])


@pytest.fixture
def setup(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TICKETSCAN__SINKS__JSONL__PATH", str(tmp_path / "findings.jsonl"))
    monkeypatch.setenv("TICKETSCAN__SINKS__FLAKY__FLAG", str(tmp_path / "down"))
    monkeypatch.delenv("TICKETSCAN_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    config = load_config()
    queue = EmbeddedTransport(EmbeddedTransport.Settings(path=str(tmp_path / "q.db")))
    settings = WorkerSettings(max_attempts=3, backoff=0, work_dir=str(tmp_path / "work"))
    worker = Worker(_plugins(), config, queue, settings, scanner_names=["detect-secrets"],
                    sink_names=["flaky", "jsonl"])
    FlakySink.calls.clear()
    yield worker, queue, tmp_path
    queue.close()


def _publish(queue: EmbeddedTransport, body: bytes, delivery_id: str) -> None:
    queue.publish(Message(body=body, attributes={"source": "jira", "delivery_id": delivery_id}))


def test_a_good_event_is_scanned_published_and_acked(setup) -> None:
    worker, queue, tmp = setup
    _publish(queue, json.dumps(EVENT).encode(), "good-1")
    assert worker.run(max_events=1, idle_timeout=5) == 1
    lines = (tmp / "findings.jsonl").read_text().splitlines()
    assert any(json.loads(line)["type"] == "aws-access-key-id" for line in lines)
    assert_no_secrets(lines, [AWS_KEY])
    assert queue.depth() == 0 and queue.dead_letters() == []
    assert not any((tmp / "work").iterdir())  # the work folder of a success is removed


def test_a_poison_event_is_dead_lettered_after_max_attempts(setup) -> None:
    worker, queue, _ = setup
    _publish(queue, b"{this is not json", "poison-1")
    outcomes = []
    worker.on_outcome = outcomes.append
    worker.run(max_events=3, idle_timeout=5)
    assert [o.action for o in outcomes] == ["nack", "nack", "dead-letter"]
    [dead] = queue.dead_letters()
    assert dead["delivery_id"] == "poison-1"
    assert dead["attempts"] == 3
    assert dead["body"] == b"{this is not json"
    assert "EventError" in dead["error"]
    assert queue.depth() == 0


def test_a_transient_sink_failure_is_retried_then_acked(setup) -> None:
    worker, queue, tmp = setup
    (tmp / "down").touch()
    _publish(queue, json.dumps(EVENT).encode(), "transient-1")
    outcomes = []

    def on_outcome(outcome) -> None:  # type: ignore[no-untyped-def]
        outcomes.append(outcome)
        (tmp / "down").unlink(missing_ok=True)  # the outage ends after the first attempt

    worker.on_outcome = on_outcome
    worker.run(max_events=2, idle_timeout=5)
    assert [o.action for o in outcomes] == ["nack", "ack"]
    assert queue.dead_letters() == [] and queue.depth() == 0
    # the jsonl sink delivered on the first attempt; the retry did not write it twice
    lines = (tmp / "findings.jsonl").read_text().splitlines()
    assert len(lines) == len({json.loads(line)["id"] for line in lines}) >= 1


def test_an_event_no_source_understands_never_crashes_the_worker(setup) -> None:
    worker, queue, _ = setup
    _publish(queue, b"[1, 2, 3]", "array-1")
    _publish(queue, json.dumps(EVENT).encode(), "good-2")
    outcomes = []
    worker.on_outcome = outcomes.append
    worker.run(max_events=4, idle_timeout=3)
    actions = {(o.delivery_id, o.action) for o in outcomes}
    assert ("good-2", "ack") in actions
    assert ("array-1", "dead-letter") in actions


def test_a_webhook_cannot_make_the_worker_read_local_files(setup) -> None:
    worker, queue, tmp = setup
    (tmp / "local.txt").write_text(f"aws_access_key_id = {AWS_KEY}\n")
    body = json.dumps({"source": "files", "paths": [str(tmp / "local.txt")]}).encode()
    queue.publish(Message(body=body, attributes={"source": "payload", "delivery_id": "f-1"}))
    outcomes = []
    worker.on_outcome = outcomes.append
    worker.run(max_events=1, idle_timeout=3)
    assert outcomes[0].action == "ack"
    # scanned as a payload (the path string), not as the file it names
    assert all(f.location.path.startswith("unknown/payload") for f in outcomes[0].findings)
    assert outcomes[0].findings == []
