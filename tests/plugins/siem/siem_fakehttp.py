"""A small threaded HTTP(S) server that records requests and replays scripted responses.

Used as a FAKE Splunk HEC and as a webhook/OCSF receiver: no Splunk can run on this machine
(not installable from PyPI/Debian), so the fake answers with the documented HEC response shapes
(``{"text": "Success", "code": 0}``, error codes with their HTTP statuses, 429 + Retry-After)
and the sinks' real httpx clients talk to it over real sockets.
"""

from __future__ import annotations

import gzip
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> bytes:
        if self.headers.get("content-encoding") == "gzip":
            return gzip.decompress(self.raw)
        return self.raw

    def json_lines(self) -> list[Any]:
        """HEC bodies are concatenated JSON objects (one per line here)."""
        return [json.loads(line) for line in self.body.decode().splitlines() if line.strip()]


Responder = Callable[[Request], tuple[int, dict[str, str], bytes]]


def json_response(status: int, data: Any, headers: dict[str, str] | None = None
                  ) -> tuple[int, dict[str, str], bytes]:
    merged = {"Content-Type": "application/json", **(headers or {})}
    return status, merged, json.dumps(data).encode()


@dataclass
class FakeServer:
    responder: Responder
    requests: list[Request] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self, tls: tuple[Path, Path] | None = None) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                req = Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                              self.rfile.read(length))
                fake.requests.append(req)
                status, headers, body = fake.script.pop(0) if fake.script else fake.responder(req)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def bodies(self) -> list[bytes]:
        return [r.body for r in self.requests]
