"""The embedded (SQLite) transport passes the transport contract, plus its own durability rules."""

from __future__ import annotations

import threading
from pathlib import Path

from ticketscan.builtins.embedded import EmbeddedTransport
from ticketscan.components import Message, Transport
from ticketscan.testing import TransportContract


def _embedded(path: Path, **settings: object) -> EmbeddedTransport:
    settings = {"path": str(path), **settings}
    return EmbeddedTransport(EmbeddedTransport.Settings.model_validate(settings))


class TestEmbeddedContract(TransportContract):
    transport_name = "embedded"

    def make_transport(self, tmp_path: Path) -> Transport:
        return _embedded(tmp_path / "queue.db")

    def dead_letters(self, transport: Transport) -> list[tuple[bytes, str]]:
        assert isinstance(transport, EmbeddedTransport)
        return [(d["body"], d["error"]) for d in transport.dead_letters()]


def _msg(n: int) -> Message:
    return Message(body=b'{"n": %d}' % n, attributes={"source": "jira", "delivery_id": f"id-{n}"})


def test_a_published_message_survives_reopening_the_file(tmp_path: Path) -> None:
    first = _embedded(tmp_path / "q.db")
    first.publish(_msg(1))
    first.close()
    second = _embedded(tmp_path / "q.db")
    got = second.receive(max_messages=5, timeout=0.5)
    assert [m.body for m in got] == [b'{"n": 1}']
    second.close()


def test_an_unacked_message_comes_back_after_the_visibility_timeout(tmp_path: Path) -> None:
    queue = _embedded(tmp_path / "q.db", visibility_timeout=0.3)
    queue.publish(_msg(2))
    first = queue.receive(timeout=1)[0]
    assert queue.receive(timeout=0.1) == []
    again = queue.receive(timeout=2)[0]
    assert again.attempt == 2 and again.body == first.body
    queue.ack(first)  # a stale lease acks nothing
    assert queue.depth() == 1
    queue.ack(again)
    assert queue.depth() == 0
    queue.close()


def test_concurrent_publishes_are_all_committed_once(tmp_path: Path) -> None:
    queue = _embedded(tmp_path / "q.db")
    threads = [threading.Thread(target=queue.publish, args=(_msg(i % 50),)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert queue.depth() == 50  # 200 publishes of 50 delivery ids
    queue.close()


def test_dedup_window_zero_keeps_redeliveries(tmp_path: Path) -> None:
    queue = _embedded(tmp_path / "q.db", dedup_window=0)
    queue.publish(_msg(3))
    import time

    time.sleep(0.01)
    queue.publish(_msg(3))
    assert queue.depth() == 2
    queue.close()
