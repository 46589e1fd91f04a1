"""One httpx client setup for the HTTP sinks: TLS verification on by default, timeouts."""

from __future__ import annotations

import httpx
from ticketscan.delivery import SinkRetryError
from ticketscan.errors import SinkError

from .common import ssl_context

__all__ = ["make_client", "post"]


def make_client(*, verify: bool, ca_file: str | None, timeout: float) -> httpx.Client:
    ctx = ssl_context(verify=verify, ca_file=ca_file)
    return httpx.Client(verify=ctx, timeout=timeout, follow_redirects=False)


def post(
    client: httpx.Client, sink: str, url: str, *, content: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST; network errors become SinkRetryError, an untrusted certificate a SinkError."""
    host = httpx.URL(url).host
    try:
        return client.post(url, content=content, headers=headers)
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise SinkError(
                f"TLS certificate of {host} not trusted",
                plugin=sink,
                hint="set ca_file to the CA that signed the server's certificate",
            ) from None
        raise SinkRetryError(f"cannot connect to {host}: {exc}", plugin=sink) from exc
    except httpx.TransportError as exc:
        raise SinkRetryError(f"request to {host} failed: {exc}", plugin=sink) from exc
