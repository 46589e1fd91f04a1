"""ticketscan-gcp-pubsub against Google's Pub/Sub emulator: the transport contract."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from ticketscan.components import Transport
from ticketscan.testing import TransportContract
from ticketscan_gcp_pubsub.transport import PubSubTransport

pytestmark = pytest.mark.integration


def make_pubsub(host: str, **extra: object) -> PubSubTransport:
    tag = uuid.uuid4().hex[:8]
    settings = {
        "project": "ticketscan-test", "emulator_host": host, "topic": f"events-{tag}",
        "subscription": f"worker-{tag}", "dead_letter_topic": f"dead-{tag}",
        "dead_letter_subscription": f"dead-inspect-{tag}", "ack_deadline": 10, **extra,
    }
    return PubSubTransport(PubSubTransport.Settings.model_validate(settings))


class TestPubSubContract(TransportContract):
    transport_name = "gcp-pubsub"

    @pytest.fixture(autouse=True)
    def _emulator(self, pubsub_emulator) -> None:
        self.emulator = pubsub_emulator

    def make_transport(self, tmp_path: Path) -> Transport:
        return make_pubsub(self.emulator.host)

    def dead_letters(self, transport: Transport) -> list[tuple[bytes, str]]:
        assert isinstance(transport, PubSubTransport)
        return [(body, attrs.get("error", "")) for body, attrs in transport.dead_letters()]
