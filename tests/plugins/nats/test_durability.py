"""Durability: signed webhooks under load while nats-server is stopped and restarted.

Every event answered 202 is consumed exactly once; only events answered 503 may be missing.
Real nats-server with JetStream file storage in a temp dir, 127.0.0.1 only, bounded loops.
"""

from __future__ import annotations

import uuid

import pytest
from ticketscan.testing import outage_under_load
from ticketscan_nats.transport import NatsTransport

pytestmark = pytest.mark.integration


def test_every_202_is_consumed_exactly_once_across_a_broker_restart(nats_server) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = NatsTransport.Settings.model_validate({
        "servers": [nats_server.url], "stream": f"T{tag}", "subject": f"t.{tag}.events",
        "durable": f"w{tag}", "dead_letter_stream": f"D{tag}",
        "dead_letter_subject": f"t.{tag}.dead", "publish_timeout": 1.0,
        "connect_timeout": 0.5,
    })
    publisher = NatsTransport(settings)
    consumer = NatsTransport(settings)
    publisher.ping()  # streams exist before the load starts
    try:
        counts = outage_under_load(publisher, consumer, nats_server.stop, nats_server.start,
                                   events=400, outage_after=80, outage_seconds=1.0)
    finally:
        publisher.close()
        consumer.close()
    print(counts)
    assert counts["refused"] > 0, "the outage refused nothing: the broker stop had no effect"
    assert counts["accepted_after_outage"] > 0, "nothing was accepted after the restart"
