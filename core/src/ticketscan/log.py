"""Logging: JSON lines off a terminal (for Kubernetes), readable lines on one.

Every line carries the delivery id of the event being processed (``delivery_context``).
A last line of defence masks values registered with :func:`register_secret` (e.g. resolved
config secrets) should one ever reach a message.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

__all__ = ["configure_logging", "delivery_context", "register_secret"]

_delivery: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ticketscan_delivery_id", default=None
)
_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Mask ``value`` in every log line from now on (only values of 6+ characters)."""
    if value and len(value) >= 6:
        _secrets.add(value)


@contextlib.contextmanager
def delivery_context(delivery_id: str | None) -> Iterator[None]:
    token = _delivery.set(delivery_id)
    try:
        yield
    finally:
        _delivery.reset(token)


def _scrub(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "**********")
    return text


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.delivery_id = _delivery.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _scrub(record.getMessage()),
        }
        delivery = getattr(record, "delivery_id", None)
        if delivery:
            data["delivery_id"] = delivery
        if record.exc_info:
            data["exc"] = _scrub(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        delivery = getattr(record, "delivery_id", None)
        prefix = f"[{delivery}] " if delivery else ""
        line = f"{record.levelname.lower():7} {prefix}{_scrub(record.getMessage())}"
        if record.exc_info:
            line += "\n" + _scrub(self.formatException(record.exc_info))
        return line


def configure_logging(level: str = "info", *, json_lines: bool | None = None) -> None:
    """Send ticketscan's logs to stderr: JSON when not a terminal, text when it is."""
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger("ticketscan")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False
