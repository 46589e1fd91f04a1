"""Durability: signed webhooks under load while the Pub/Sub emulator is stopped and restarted.

Every event answered 202 is consumed exactly once; only events answered 503 may be missing.
The emulator keeps everything in memory (real Pub/Sub does not lose stored messages), so the
test drains what was accepted before stopping it: what is checked is the receiver's 503
during the outage and the transport's recovery afterwards (it recreates the topic and the
subscription before publishing again). 127.0.0.1 only, bounded loops.
"""

from __future__ import annotations

import uuid

import pytest
from ticketscan.testing import outage_under_load
from ticketscan_gcp_pubsub.transport import PubSubTransport

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_every_202_is_consumed_exactly_once_across_an_emulator_restart(pubsub_emulator) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = PubSubTransport.Settings.model_validate({
        "project": "ticketscan-test", "emulator_host": pubsub_emulator.host,
        "topic": f"events-{tag}", "subscription": f"worker-{tag}",
        "dead_letter_topic": f"dead-{tag}", "dead_letter_subscription": f"dead-i-{tag}",
        "publish_timeout": 1.0, "ack_deadline": 30,
    })
    publisher = PubSubTransport(settings)
    consumer = PubSubTransport(settings)
    publisher.ping()
    try:
        counts = outage_under_load(publisher, consumer, pubsub_emulator.stop,
                                   pubsub_emulator.start, events=300, outage_after=80,
                                   outage_seconds=1.0, drain_before_stop=True)
    finally:
        publisher.close()
        consumer.close()
    print(counts)
    assert counts["refused"] > 0, "the outage refused nothing: the emulator stop had no effect"
    assert counts["accepted_after_outage"] > 0, "nothing was accepted after the restart"
