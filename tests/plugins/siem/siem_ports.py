"""A TCP port on 127.0.0.1 with nothing listening (connections are refused)."""

from __future__ import annotations

import socket


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
