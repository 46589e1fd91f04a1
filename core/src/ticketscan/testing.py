"""Conformance tests for plugins: subclass a contract, fill in a few attributes, run pytest.

Every in-repo plugin's contract test is such a subclass, and a third-party author can run the
same contracts on theirs::

    from ticketscan.testing import ScannerContract

    class TestMyScanner(ScannerContract):
        scanner_name = "myscanner"
        planted = {"aws": "AKIA2OGYBAH6STMJ4HJQ"}     # label -> a fake secret it must find

The contracts use pytest's ``tmp_path`` fixture and need no network. Secrets used here are
fake: random, structurally valid, never real.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from .components import Message, PublishContext, Sink, Source, Transport
from .config import Config, load_config
from .documents import DocumentWriter, read_manifest
from .errors import EventError
from .merge import build_findings
from .models import Detection, Finding, Part, TicketEvent, TicketRef, redact, sha256_text
from .plugins import Plugins, make_plugin_manager
from .steps import fetch_event, scan

__all__ = [
    "SAMPLE_SECRETS",
    "ScannerContract",
    "SinkContract",
    "SourceContract",
    "TransportContract",
    "assert_no_secrets",
    "outage_under_load",
    "sample_findings",
]

#: Fake secrets (random, structurally valid) used by the contracts.
SAMPLE_SECRETS: dict[str, str] = {
    "aws-access-key-id": "AKIA2OGYBAH6STMJ4HJQ",
    "stripe-secret-key": "sk_live_4qTb9ZxLk2VwR7nPc3JmYd8H",
    "slack-token": "xoxb-284719305521-3948572019384-Qz8vLm2KpX4nRt7WcY1sBa9D",
}


def assert_no_secrets(blobs: Iterable[str | bytes], secrets: Iterable[str]) -> None:
    """Fail if any planted secret appears in any output, in clear."""
    for blob in blobs:
        text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
        for secret in secrets:
            assert secret not in text, f"a planted secret ({redact(secret)}) leaked into output"


def _contract_plugins() -> Plugins:
    return make_plugin_manager()


def sample_findings(ticket_key: str = "SEC-1") -> list[Finding]:
    """Findings built the way a scan builds them, for the SAMPLE_SECRETS."""
    from .models import Document

    ticket = TicketRef(
        system="jira",
        key=ticket_key,
        url=f"https://jira.example.com/browse/{ticket_key}",
        project=ticket_key.split("-")[0],
    )
    doc = Document(
        id="0000-comment",
        ticket=ticket,
        part=Part.COMMENT,
        part_id="10001",
        path=f"{ticket_key}/comment/10001",
        size=100,
        sha256="0" * 64,
        text_path="text/0000-comment.txt",
    )
    pairs = []
    for line, (kind, secret) in enumerate(SAMPLE_SECRETS.items(), 1):
        pairs.append(
            (
                doc,
                Detection(
                    scanner="contract",
                    rule_id=kind,
                    type=kind,
                    confidence=0.9,
                    secret_sha256=sha256_text(secret),
                    secret_length=len(secret),
                    redacted=redact(secret),
                    line=line,
                    column=5,
                    end_line=line,
                    end_column=5 + len(secret),
                ),
            )
        )
    return build_findings(pairs)


class ScannerContract:
    """What every scanner must do. Set ``scanner_name`` and ``planted``."""

    scanner_name: ClassVar[str]
    #: label -> fake secret the scanner must find, each planted on its own line in context.
    planted: ClassVar[Mapping[str, str]] = {}
    #: text in which the scanner must find nothing.
    clean_text: ClassVar[str] = (
        "Hello team,\nthe export finished at 10:42 and the report id is 7f3a.\nThanks!\n"
    )
    #: config overrides for the scanner's section
    settings: ClassVar[Mapping[str, Any]] = {}

    def context_line(self, label: str, secret: str) -> str:
        """How a secret is planted; override for engines that need a keyword."""
        return f"please use {label.replace('-', '_')}={secret} for the integration"

    def _config(self) -> Config:
        config = load_config(env={})
        config.data.setdefault("scanners", {})[self.scanner_name] = dict(self.settings)
        config.pipeline.decode = False
        return config

    def _docs(self, tmp_path: Path, text: str) -> Path:
        event = TicketEvent(
            system="files",
            event_type="contract",
            delivery_id="contract",
            ticket=TicketRef(system="files", key="CONTRACT-1"),
        )
        out = tmp_path / "documents"
        writer = DocumentWriter(out, event)
        writer.add_text(part=Part.DESCRIPTION, path="CONTRACT-1/description", text=text)
        writer.close()
        return out

    def _scan(self, tmp_path: Path, text: str) -> list[Finding]:
        outcome = scan(
            _contract_plugins(), self._config(), self._docs(tmp_path, text), [self.scanner_name]
        )
        return outcome.findings

    def _planted_text(self) -> str:
        lines = ["Ticket from a customer:", ""]
        for label, secret in self.planted.items():
            lines.append(self.context_line(label, secret))
            lines.append("")
        return "\n".join(lines) + "\n"

    def test_is_registered(self) -> None:
        assert self.scanner_name in _contract_plugins().names("scanner")

    def test_settings_reject_unknown_keys(self) -> None:
        cls = _contract_plugins().scanner(self.scanner_name)
        with pytest.raises(ValueError):
            cls.Settings.model_validate({"no_such_setting_anywhere": 1})

    def test_finds_every_planted_secret(self, tmp_path: Path) -> None:
        findings = self._scan(tmp_path, self._planted_text())
        found = {d.secret_sha256 for f in findings for d in f.detections}
        for label, secret in self.planted.items():
            assert sha256_text(secret) in found, f"{self.scanner_name} missed {label}"

    def test_locations_point_at_the_secret(self, tmp_path: Path) -> None:
        text = self._planted_text()
        lines = text.splitlines()
        for finding in self._scan(tmp_path, text):
            loc = finding.location
            if loc.end_line == loc.line and loc.end_column:
                cut = lines[loc.line - 1][loc.column - 1 : loc.end_column - 1]
                assert sha256_text(cut) == finding.secret_sha256

    def test_output_never_holds_a_secret(self, tmp_path: Path) -> None:
        findings = self._scan(tmp_path, self._planted_text())
        assert_no_secrets([f.model_dump_json() for f in findings], self.planted.values())

    def test_clean_text_gives_nothing(self, tmp_path: Path) -> None:
        assert self._scan(tmp_path, self.clean_text) == []


class SourceContract:
    """What every source must do. Set ``source_name`` and implement ``events``."""

    source_name: ClassVar[str]

    def source(self) -> Source:
        """An instance configured to reach the test system (override for remote sources)."""
        cls = _contract_plugins().source(self.source_name)
        return cls(cls.Settings())

    def events(self) -> Sequence[tuple[dict[str, Any], dict[str, str]]]:
        """Sample webhook bodies with their headers that the source must parse."""
        raise NotImplementedError

    def malformed_events(self) -> Sequence[dict[str, Any]]:
        """Bodies the source must refuse with an EventError."""
        return [{"completely": "unrelated"}]

    def test_is_registered(self) -> None:
        assert self.source_name in _contract_plugins().names("source")

    def test_parses_every_sample_event(self) -> None:
        for payload, headers in self.events():
            event = self.source().parse_event(payload, headers)
            assert isinstance(event, TicketEvent)
            assert event.ticket.key

    def test_refuses_malformed_events(self) -> None:
        for payload in self.malformed_events():
            with pytest.raises(EventError):
                self.source().parse_event(payload, {})

    def test_fetch_writes_a_valid_manifest_and_is_idempotent(self, tmp_path: Path) -> None:
        for i, (payload, headers) in enumerate(self.events()):
            source = self.source()
            event = source.parse_event(payload, headers)
            event.delivery_id = event.delivery_id or f"contract-{i}"
            first = fetch_event(source, event, tmp_path / f"a{i}")
            second = fetch_event(self.source(), event, tmp_path / f"b{i}")
            assert first.model_dump() == second.model_dump()
            manifest = read_manifest(tmp_path / f"a{i}")
            for doc in manifest.documents:
                assert (tmp_path / f"a{i}" / doc.text_path).is_file()


class SinkContract:
    """What every sink must do. Set ``sink_name``; implement ``make_settings`` and ``delivered``."""

    sink_name: ClassVar[str]

    def make_settings(self, tmp_path: Path) -> Mapping[str, Any]:
        return {}

    def delivered(self, tmp_path: Path) -> list[str | bytes]:
        """Everything the sink sent or wrote (request bodies, files, ...)."""
        raise NotImplementedError

    def _sink(self, tmp_path: Path) -> Sink:
        cls = _contract_plugins().sink(self.sink_name)
        return cls(cls.Settings.model_validate(dict(self.make_settings(tmp_path))))

    def test_is_registered(self) -> None:
        assert self.sink_name in _contract_plugins().names("sink")

    def test_delivers_findings_and_never_a_secret(self, tmp_path: Path) -> None:
        findings = sample_findings()
        report = self._sink(tmp_path).publish(findings, PublishContext(out_dir=tmp_path))
        assert report.ok, report.error or report.failed
        assert set(report.delivered) | set(report.suppressed) == {f.id for f in findings}
        delivered = self.delivered(tmp_path)
        assert delivered, "the sink delivered nothing observable"
        assert_no_secrets(delivered, SAMPLE_SECRETS.values())

    def test_skips_what_was_already_delivered(self, tmp_path: Path) -> None:
        findings = sample_findings()
        context = PublishContext(
            out_dir=tmp_path, already_delivered=frozenset(f.id for f in findings)
        )
        report = self._sink(tmp_path).publish(findings, context)
        assert report.delivered == []
        assert sorted(report.suppressed) == sorted(f.id for f in findings)


class TransportContract:
    """What every transport must do. Implement ``make_transport`` (a fresh, empty queue).

    Optionally implement ``dead_letters`` (what the transport's dead-letter destination holds)
    so the contract can check that a dead-lettered message keeps its body and error. Set
    ``redelivery_timeout`` higher for brokers whose nack delay is coarse.
    """

    #: seconds to wait for a nacked message to come back
    redelivery_timeout: ClassVar[float] = 15.0

    def make_transport(self, tmp_path: Path) -> Transport:
        raise NotImplementedError

    def dead_letters(self, transport: Transport) -> list[tuple[bytes, str]] | None:
        """(body, error) of every dead-lettered message, or None if it cannot be inspected."""
        return None

    def _message(self, n: int) -> Message:
        body = json.dumps({"webhookEvent": "comment_created", "n": n}).encode()
        return Message(
            body=body,
            attributes={
                "source": "jira",
                "delivery_id": f"d-{n}-{os.getpid()}-{uuid.uuid4().hex[:8]}",
                "received_at": "2024-01-01T00:00:00+00:00",
            },
        )

    def test_is_registered(self) -> None:
        transport_name = getattr(self, "transport_name", None)
        if transport_name is not None:
            assert transport_name in _contract_plugins().names("transport")

    def test_ping_succeeds_on_a_reachable_broker(self, tmp_path: Path) -> None:
        transport = self.make_transport(tmp_path)
        try:
            transport.ping()
        finally:
            transport.close()

    def test_body_is_kept_byte_for_byte(self, tmp_path: Path) -> None:
        transport = self.make_transport(tmp_path)
        try:
            body = b'{ "unusual":  "spacing",\n "utf8": "\xc3\xa9\xe2\x82\xac", "k": [1,2] }'
            sent = Message(body=body, attributes=dict(self._message(9).attributes))
            transport.publish(sent)
            got = _receive_one(transport)
            assert got.body == body
            assert got.attributes["received_at"] == sent.attributes["received_at"]
            transport.ack(got)
        finally:
            transport.close()

    def test_attempts_are_counted(self, tmp_path: Path) -> None:
        transport = self.make_transport(tmp_path)
        try:
            transport.publish(self._message(5))
            first = _receive_one(transport)
            assert first.attempt == 1
            transport.nack(first)
            second = _receive_one(transport, timeout=self.redelivery_timeout)
            assert second.attempt == 2
            transport.ack(second)
        finally:
            transport.close()

    def test_dead_letter_removes_the_message_and_keeps_the_error(self, tmp_path: Path) -> None:
        transport = self.make_transport(tmp_path)
        try:
            sent = self._message(6)
            transport.publish(sent)
            got = _receive_one(transport)
            transport.dead_letter(got, "EventError: cannot parse a jira event")
            assert transport.receive(max_messages=1, timeout=1.0) == []
            held = self.dead_letters(transport)
            if held is not None:
                assert (sent.body, "EventError: cannot parse a jira event") in held
        finally:
            transport.close()

    def test_publish_then_receive_keeps_body_and_attributes(self, tmp_path: Path) -> None:
        transport = self.make_transport(tmp_path)
        try:
            sent = self._message(1)
            transport.publish(sent)
            got = _receive_one(transport)
            assert got.body == sent.body
            assert got.attributes["delivery_id"] == sent.attributes["delivery_id"]
            assert got.attributes["source"] == "jira"
            transport.ack(got)
            assert transport.receive(max_messages=1, timeout=0.5) == []
        finally:
            transport.close()

    def test_nack_redelivers(self, tmp_path: Path) -> None:
        transport = self.make_transport(tmp_path)
        try:
            transport.publish(self._message(2))
            first = _receive_one(transport)
            transport.nack(first)
            again = _receive_one(transport, timeout=self.redelivery_timeout)
            assert again.body == first.body
            assert again.attempt >= 2
            transport.ack(again)
        finally:
            transport.close()

    def test_duplicate_delivery_ids_are_dropped(self, tmp_path: Path) -> None:
        transport = self.make_transport(tmp_path)
        try:
            message = self._message(3)
            transport.publish(message)
            transport.publish(Message(body=message.body, attributes=dict(message.attributes)))
            got = _receive_one(transport)
            transport.ack(got)
            assert transport.receive(max_messages=1, timeout=1.0) == []
        finally:
            transport.close()


def _receive_one(transport: Transport, timeout: float = 10.0) -> Message:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = transport.receive(max_messages=1, timeout=1.0)
        if got:
            return got[0]
    raise AssertionError("no message received")


def outage_under_load(
    transport: Transport,
    consumer: Transport,
    stop_broker: Callable[[], None],
    start_broker: Callable[[], None],
    *,
    events: int = 300,
    concurrency: int = 16,
    outage_after: int = 80,
    outage_seconds: float = 1.0,
    drain_seconds: float = 60.0,
    drain_before_stop: bool = False,
) -> dict[str, Any]:
    """Post ``events`` signed webhooks through the receiver while the broker stops and restarts.

    The receiver app runs in-process (httpx's ASGI transport) publishing to ``transport``;
    after ``outage_after`` responses the broker is stopped for ``outage_seconds`` and started
    again. Then ``consumer`` drains the queue (bounded by ``drain_seconds``). Asserts that
    every event answered 202 is consumed exactly once and that every event not consumed was
    answered 503; returns the counts. Needs ``httpx`` (a test dependency).

    ``drain_before_stop``: for a broker that keeps its state in memory (the Pub/Sub
    emulator), posting pauses, the consumer drains what was accepted so far, and only then is
    the broker stopped — a restart of such a broker loses everything by design, which is not
    what this checks.
    """
    import asyncio
    import collections
    import threading
    import time

    import httpx

    from .receiver import ReceiverSettings, create_app, sign_jira

    secret = "outage-test-secret"  # noqa: S105 - a test fixture, not a credential
    settings = ReceiverSettings.model_validate(
        {"sources": {"jira": {"secrets": [secret]}}, "request_timeout": 5.0, "retry_after": 1}
    )
    app = create_app(transport, settings, ["jira"], close_transport=False)
    statuses: dict[str, int] = {}
    order: list[int] = []
    done = 0
    outage = threading.Event()
    paused = threading.Event()
    in_flight = 0
    consumed: collections.Counter[str] = collections.Counter()

    def drain(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        idle_since = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - idle_since < 3.0:
            try:
                got = consumer.receive(max_messages=50, timeout=0.5)
            except Exception:  # the broker may still be recovering: bounded by the deadline
                time.sleep(0.2)
                continue
            for message in got:
                consumed[message.delivery_id] += 1
                consumer.ack(message)
            if got:
                idle_since = time.monotonic()

    def outage_thread() -> None:
        outage.wait()
        if drain_before_stop:
            paused.set()
            deadline = time.monotonic() + 30
            while in_flight and time.monotonic() < deadline:
                time.sleep(0.01)
            drain(drain_seconds)
        stop_broker()
        paused.clear()
        time.sleep(outage_seconds)
        start_broker()

    thread = threading.Thread(target=outage_thread, daemon=True)
    thread.start()

    async def post_all() -> None:
        nonlocal done
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(events):
            queue.put_nowait(n)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://receiver", timeout=30) as client:

            async def one_worker() -> None:
                nonlocal done
                nonlocal in_flight
                while not queue.empty():
                    while paused.is_set():
                        await asyncio.sleep(0.01)
                    n = queue.get_nowait()
                    in_flight += 1
                    body = json.dumps({"webhookEvent": "comment_created", "n": n}).encode()
                    headers = {"Content-Type": "application/json",
                               "X-Hub-Signature": sign_jira(secret, body),
                               "X-Atlassian-Webhook-Identifier": f"outage-{n}"}
                    response = await client.post("/hooks/jira", content=body, headers=headers)
                    in_flight -= 1
                    statuses[f"outage-{n}"] = response.status_code
                    done += 1
                    if done == outage_after:
                        outage.set()
                    order.append(response.status_code)
                    if response.status_code == 503:
                        await asyncio.sleep(0.1)  # a ticketing system backs off too

            await asyncio.gather(*(one_worker() for _ in range(concurrency)))
        aclose = getattr(transport, "aclose", None)
        if aclose is not None:  # connections publish_async opened on this loop
            await aclose()

    asyncio.run(post_all())
    outage.set()
    thread.join(timeout=60)
    drain(drain_seconds)
    accepted = {d for d, s in statuses.items() if s == 202}
    refused = {d for d, s in statuses.items() if s == 503}
    assert set(statuses.values()) <= {202, 503}, collections.Counter(statuses.values())
    assert len(statuses) == events
    lost = accepted - set(consumed)
    assert not lost, f"{len(lost)} events answered 202 were never consumed"
    twice = {d: c for d, c in consumed.items() if c > 1}
    assert not twice, f"consumed more than once: {twice}"
    assert set(consumed) <= set(statuses)
    assert set(statuses) - set(consumed) <= refused
    first_refusal = order.index(503) if 503 in order else len(order)
    return {"accepted": len(accepted), "refused": len(refused), "consumed": len(consumed),
            "refused_but_delivered": len(refused & set(consumed)),
            "accepted_after_outage": order[first_refusal:].count(202)}
