"""ticketscan-nats against a real nats-server (JetStream): the transport contract."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from ticketscan.components import Transport
from ticketscan.testing import TransportContract
from ticketscan_nats.transport import ERROR_HEADER, NatsTransport

pytestmark = pytest.mark.integration


def make_nats(url: str, **extra: object) -> NatsTransport:
    tag = uuid.uuid4().hex[:8]
    settings = {
        "servers": [url], "stream": f"T{tag}", "subject": f"t.{tag}.events",
        "durable": f"w{tag}", "dead_letter_stream": f"D{tag}",
        "dead_letter_subject": f"t.{tag}.dead", **extra,
    }
    return NatsTransport(NatsTransport.Settings.model_validate(settings))


class TestNatsContract(TransportContract):
    transport_name = "nats"

    @pytest.fixture(autouse=True)
    def _server(self, nats_server) -> None:
        self.server = nats_server

    def make_transport(self, tmp_path: Path) -> Transport:
        return make_nats(self.server.url)

    def dead_letters(self, transport: Transport) -> list[tuple[bytes, str]]:
        assert isinstance(transport, NatsTransport)
        return [(body, headers.get(ERROR_HEADER, "")) for body, headers in
                transport.dead_letters()]


def test_unreachable_server_is_a_transport_error() -> None:
    import socket

    from ticketscan.errors import TransportError

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    transport = make_nats(f"nats://127.0.0.1:{closed}", connect_timeout=0.5)
    try:
        with pytest.raises(TransportError, match="cannot connect"):
            transport.ping()
    finally:
        transport.close()
