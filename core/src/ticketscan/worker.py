"""The worker: consume events from a transport and run the pipeline for each.

For every message: parse the event with its source, fetch into a work folder of its own
(``<work_dir>/<delivery id>``), scan, merge, publish. Then:

* success: ack (and remove the work folder);
* failure: nack with exponential backoff, so the transport redelivers it; a retry reuses the
  same work folder, whose ``publish-report.json`` keeps sinks from sending twice;
* the ``max_attempts``-th failure: dead-letter it with the error (one line, no secret).

Nothing is dropped silently, and no event can crash the worker: every exception of one event
ends in nack or dead-letter. Configuration (``[worker]``)::

    [worker]
    max_attempts = 5          # deliveries before the dead-letter destination
    backoff = 2.0             # seconds before the 1st retry, doubled each time
    backoff_max = 300.0
    work_dir = "ticketscan-work"
    keep_work = false         # keep the work folder of successful events
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import steps
from .components import Message, Source, Transport
from .config import Config
from .errors import ConfigError, EventError, PluginError, SinkError, TicketscanError
from .log import delivery_context
from .models import Finding
from .plugins import Plugins
from .sarif import write_sarif

__all__ = ["Outcome", "Worker", "WorkerSettings", "worker_settings"]

log = logging.getLogger("ticketscan.worker")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class WorkerSettings(BaseModel):
    """The ``[worker]`` section."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=5, ge=1, description="Deliveries before dead-lettering.")
    backoff: float = Field(default=2.0, ge=0, description="Seconds before the first retry.")
    backoff_max: float = Field(default=300.0, ge=0, description="Longest retry delay.")
    work_dir: str = Field(default="ticketscan-work", description="Per-event work folders.")
    keep_work: bool = Field(default=False, description="Keep work folders of successful events.")
    batch: int = Field(default=1, ge=1, le=100, description="Messages taken per receive.")


def worker_settings(config: Config, **overrides: Any) -> WorkerSettings:
    raw = dict(config.data.get("worker", {}) or {})
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return WorkerSettings.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(err["msg"], file=str(config.path) if config.path else None,
                          section="worker", key=".".join(map(str, err["loc"])) or None) from None


@dataclass
class Outcome:
    """What happened to one message."""

    action: Literal["ack", "nack", "dead-letter"]
    delivery_id: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, TicketscanError):
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:500]


def folder_name(delivery_id: str) -> str:
    """A safe, unique folder name for a delivery id."""
    short = _UNSAFE.sub("_", delivery_id)[:60] or "event"
    return f"{short}-{hashlib.sha256(delivery_id.encode()).hexdigest()[:10]}"


class Worker:
    """Runs the pipeline for each message of a transport. Plugins and config load once."""

    def __init__(
        self,
        plugins: Plugins,
        config: Config,
        transport: Transport,
        settings: WorkerSettings | None = None,
        *,
        scanner_names: Sequence[str] = (),
        sink_names: Sequence[str] = (),
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.plugins = plugins
        self.config = config
        self.transport = transport
        self.settings = settings or worker_settings(config)
        self.scanner_names = steps.resolve_scanners(
            plugins, list(scanner_names) or config.pipeline.scanners
        )
        self.sink_names = list(sink_names) or list(config.pipeline.sinks)
        self.work_dir = Path(self.settings.work_dir).expanduser().resolve()
        self.on_outcome = on_outcome
        self.stop_event = threading.Event()
        #: stop when this process is no longer our parent (set by ``serve`` for its workers)
        self.parent_pid: int | None = None
        # validate every component before the first event: a broken setup fails at start
        for name in self.scanner_names:
            config.settings_for(plugins.scanner(name))
        for name in self.sink_names:
            config.settings_for(plugins.sink(name))

    def warm_up(self) -> None:
        """Run each scanner once, in this process, on a harmless line.

        Scanners import their engines lazily inside ``_scan``; the pipeline runs each scan in a
        forked child, so without this every event would pay those imports again (detect-secrets:
        ~0.3 s). After a warm-up the children inherit the loaded modules.
        """
        import tempfile

        from .components import ScanBatch, ScanInput

        with tempfile.TemporaryDirectory(prefix="ticketscan-warmup-") as tmpname:
            tmp = Path(tmpname)
            text = tmp / "warmup.txt"
            text.write_text("warm-up: nothing secret here\n", encoding="utf-8")
            for name in self.scanner_names:
                try:
                    cls = self.plugins.scanner(name)
                    scanner = cls(self.config.settings_for(cls))
                    scanner.check()
                    work = tmp / name
                    work.mkdir()
                    scanner.scan(ScanBatch(root=tmp, inputs=[ScanInput("w", text)], workdir=work))
                except Exception as exc:  # the real scan reports it properly
                    log.debug("warm-up of scanner %s failed: %s", name, exc)

    # -- one event ---------------------------------------------------------------------

    def _source_for(self, message: Message, payload: dict[str, Any],
                    headers: dict[str, str]) -> str:
        """The source named by the message if installed and configured, else the first
        configured source that claims the payload.

        The ``files`` source (local paths) is never chosen for a webhook automatically: a
        delivery could otherwise make the worker read files of its own machine.
        """
        name = message.attributes.get("source")
        if self.config.pipeline.source != "auto":
            return self.config.pipeline.source
        if name and name in self.plugins.names("source"):
            cls = self.plugins.source(name)
            if cls.is_configured(self.config.section("source", name)):
                return name
            log.info("source %s is not configured; choosing a source automatically", name)
        for cls in steps._sources_by_priority(self.plugins):
            if cls.name == "files":
                continue
            if cls.claims(payload, headers) and cls.is_configured(
                self.config.section("source", cls.name)
            ):
                return cls.name
        raise EventError("no installed and configured source recognizes this event")

    def process(self, message: Message) -> list[Finding]:
        """Run the whole pipeline for one message; raises on any failure."""
        try:
            payload = json.loads(message.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EventError(f"the message body is not JSON ({exc.__class__.__name__})") from None
        if not isinstance(payload, dict):
            raise EventError("the message body must be a JSON object", field="$")
        headers = {
            key[2:]: value for key, value in message.attributes.items() if key.startswith("h-")
        }
        instance: Source
        instance, event = steps.parse_event(
            self.plugins, self.config, payload, message.body, headers,
            source=self._source_for(message, payload, headers),
            delivery_id=message.delivery_id or None,
        )
        folder = self.work_dir / folder_name(event.delivery_id)
        docs = folder / "documents"
        manifest = steps.fetch_event(instance, event, docs)
        outcome = steps.scan(self.plugins, self.config, docs, self.scanner_names)
        if outcome.errors:
            steps.write_status(folder / "scan.status.json", outcome.results)
        findings = outcome.findings
        steps.write_findings(folder / "findings.jsonl", findings)
        write_sarif(folder / "findings.sarif", findings)
        report = steps.publish(self.plugins, self.config, findings, self.sink_names, folder,
                               manifest=manifest)
        failed = [name for name, r in report.sinks.items() if not r.ok]
        if failed:
            raise SinkError(f"sink(s) {', '.join(failed)} failed; will retry what was not sent")
        if not self.settings.keep_work:
            shutil.rmtree(folder, ignore_errors=True)
        return findings

    def handle(self, message: Message) -> Outcome:
        """Process one message and ack, nack or dead-letter it. Never raises for the event."""
        started = time.monotonic()
        delivery = message.delivery_id or "(no delivery id)"
        with delivery_context(delivery):
            try:
                findings = self.process(message)
            except (KeyboardInterrupt, SystemExit):
                self._settle(self.transport.nack, message)
                raise
            except BaseException as exc:
                error = _error_line(exc)
                if not isinstance(exc, TicketscanError):
                    log.debug("event failed", exc_info=True)
                if message.attempt >= self.settings.max_attempts:
                    log.error("attempt %d/%d failed, dead-lettering: %s", message.attempt,
                              self.settings.max_attempts, error)
                    self._settle(self.transport.dead_letter, message, error)
                    outcome = Outcome("dead-letter", delivery, error=error)
                else:
                    delay = min(self.settings.backoff_max,
                                self.settings.backoff * (2 ** (message.attempt - 1)))
                    log.warning("attempt %d/%d failed, retrying in %.1f s: %s", message.attempt,
                                self.settings.max_attempts, delay, error)
                    self._settle(self.transport.nack, message, delay)
                    outcome = Outcome("nack", delivery, error=error)
            else:
                self._settle(self.transport.ack, message)
                outcome = Outcome("ack", delivery, findings=findings)
        outcome.seconds = time.monotonic() - started
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome

    def _settle(self, action: Callable[..., None], message: Message, *args: Any) -> None:
        try:
            action(message, *args)
        except PluginError as exc:
            # the broker will redeliver after its visibility timeout: still not lost
            log.error("could not %s the message: %s", action.__name__, exc)

    # -- the loop ------------------------------------------------------------------------

    def run(self, *, max_events: int | None = None, idle_timeout: float | None = None) -> int:
        """Consume until stopped (or ``max_events`` handled / idle ``idle_timeout`` s)."""
        handled = 0
        idle_since = time.monotonic()
        while not self.stop_event.is_set():
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.warning("the serve process is gone; stopping")
                break
            try:
                messages = self.transport.receive(max_messages=self.settings.batch, timeout=1.0)
            except PluginError as exc:
                log.error("receive failed, retrying in 1 s: %s", exc)
                self.stop_event.wait(1.0)
                continue
            if not messages:
                if idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
                    break
                continue
            for message in messages:
                self.handle(message)
                handled += 1
            idle_since = time.monotonic()
            if max_events is not None and handled >= max_events:
                break
        return handled

    def stop(self) -> None:
        self.stop_event.set()
