"""ticketscan-aws-sqs against moto's server mode.

No real SQS server exists on these machines (SQS is AWS-only and there is no network beyond
the package registries): moto's server mode (``moto_server``, a real HTTP server speaking the
SQS API, FIFO queues and deduplication included) is the closest, driven with the real boto3.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ticketscan.components import Transport
from ticketscan.errors import TransportError
from ticketscan.testing import TransportContract
from ticketscan_aws_sqs.transport import SqsTransport

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which(
        "moto_server")
    if binary is None:
        pytest.fail("moto_server is missing (the dev dependency group installs moto[server])")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("moto_server did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def _dummy_credentials(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def make_sqs(url: str, **extra: object) -> SqsTransport:
    tag = uuid.uuid4().hex[:8]
    settings = {"endpoint_url": url, "queue": f"events-{tag}.fifo",
                "dead_letter_queue": f"dead-{tag}.fifo", "create_queues": True, **extra}
    return SqsTransport(SqsTransport.Settings.model_validate(settings))


class TestSqsContract(TransportContract):
    transport_name = "aws-sqs"

    @pytest.fixture(autouse=True)
    def _server(self, moto_url) -> None:
        self.url = moto_url

    def make_transport(self, tmp_path: Path) -> Transport:
        return make_sqs(self.url)

    def dead_letters(self, transport: Transport) -> list[tuple[bytes, str]]:
        assert isinstance(transport, SqsTransport)
        return [(body, attrs.get("error", "")) for body, attrs in transport.dead_letters()]


def test_standard_queues_are_refused(moto_url) -> None:
    with pytest.raises(TransportError, match="FIFO"):
        make_sqs(moto_url, queue="events")


def test_missing_queue_without_create_is_a_clear_error(moto_url) -> None:
    transport = make_sqs(moto_url, create_queues=False)
    with pytest.raises(TransportError, match="does not exist"):
        transport.ping()
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
