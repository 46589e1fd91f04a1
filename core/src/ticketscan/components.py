"""Base classes for the kinds of component a plugin provides.

Each uses the template method: core owns the public method (validation, timing, error
wrapping, redaction) and the plugin fills in the underscored one::

    class MyScanner(Scanner):
        name = "myscanner"

        class Settings(ComponentSettings):
            min_entropy: float = 3.0

        def _scan(self, batch):
            for item in batch.inputs:
                for lineno, line in enumerate(item.read_text().splitlines(), 1):
                    ...
                    yield RawFinding(document=item.id, secret=..., rule_id="x", line=lineno)

Each component has a pydantic ``Settings`` model; its section in ``ticketscan.toml``
(``[scanners.myscanner]``) is validated against it before any work starts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from .errors import (
    EventError,
    PluginError,
    ScannerError,
    SourceError,
    TicketscanError,
    TransportError,
)
from .kinds import KINDS, Kind  # noqa: F401  (KINDS re-exported)
from .models import Finding, RawFinding, SinkReport, TicketEvent

if TYPE_CHECKING:
    from .delivery import AlertRecord, DeliverySettings
    from .documents import DocumentWriter
    from .models import Manifest

__all__ = [
    "Component",
    "ComponentSettings",
    "Kind",
    "Message",
    "PublishContext",
    "ScanBatch",
    "ScanInput",
    "Scanner",
    "Sink",
    "Source",
    "StateStore",
    "Transport",
]



class ComponentSettings(BaseModel):
    """Base of every component's settings. Unknown keys are an error (typos fail early)."""

    model_config = ConfigDict(extra="forbid")


class Component:
    """What every component has: a unique ``name`` within its kind and a Settings model."""

    kind: ClassVar[Kind]
    name: ClassVar[str]
    #: One line shown by ``ticketscan plugins``.
    description: ClassVar[str] = ""
    Settings: ClassVar[type[ComponentSettings]] = ComponentSettings

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        self.settings = settings if settings is not None else self.Settings()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} {self.name!r}>"


# --------------------------------------------------------------------------------------------
# Sources


class Source(Component):
    """Parses webhook events of one ticketing system and fetches tickets into Documents."""

    kind: ClassVar[Kind] = "source"
    #: Lower asks first when the source is chosen automatically.
    priority: ClassVar[int] = 100

    @classmethod
    def is_configured(cls, section: Mapping[str, Any]) -> bool:
        """False if this source cannot fetch with the given config section (e.g. no URL)."""
        return True

    @classmethod
    def claims(cls, payload: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
        """True if ``payload`` looks like this system's webhook (used when no source is named)."""
        return False

    def parse_event(
        self, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> TicketEvent:
        """Parse a webhook body into a TicketEvent; malformed input raises ``EventError``."""
        if not isinstance(payload, Mapping):
            raise EventError("the event must be a JSON object", field="$")
        try:
            event = self._parse_event(payload, dict(headers or {}))
        except TicketscanError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise EventError(f"cannot parse a {self.name} event: {exc}") from exc
        return event

    def _parse_event(self, payload: Mapping[str, Any], headers: Mapping[str, str]) -> TicketEvent:
        raise NotImplementedError

    def fetch(self, event: TicketEvent, writer: DocumentWriter) -> None:
        """Fetch what the event points at and write it as Documents."""
        if event.skip_reason:
            return
        try:
            self._fetch(event, writer)
        except TicketscanError:
            raise
        except OSError as exc:
            message = f"fetching {event.ticket.key} failed: {exc}"
            raise SourceError(message, plugin=self.name) from exc

    def _fetch(self, event: TicketEvent, writer: DocumentWriter) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# Scanners


@dataclass(frozen=True)
class ScanInput:
    """One text file to scan. ``id`` goes back into ``RawFinding.document``."""

    id: str
    path: Path

    def read_text(self) -> str:
        return self.path.read_text(encoding="utf-8", errors="surrogateescape")


@dataclass
class ScanBatch:
    """What a scanner gets: text files under ``root`` and a private scratch directory."""

    root: Path
    inputs: Sequence[ScanInput]
    workdir: Path
    _by_path: dict[str, ScanInput] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_path = {str(item.path.resolve()): item for item in self.inputs}

    def by_path(self, path: str | Path) -> ScanInput | None:
        """The input a scanner-reported file path belongs to (absolute or relative to root)."""
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        return self._by_path.get(str(candidate.resolve()))


class Scanner(Component):
    """Finds secrets in text files. Yields :class:`RawFinding`; core hashes and redacts them."""

    kind: ClassVar[Kind] = "scanner"
    #: Canonical type of each native rule id this scanner can report (see ticketscan.taxonomy).
    rule_types: ClassVar[Mapping[str, str]] = {}
    #: Default confidence of this engine's findings before consensus.
    default_confidence: ClassVar[float] = 0.6

    def check(self) -> None:
        """Raise ``ScannerError`` if the engine is not usable (binary missing, too old)."""

    def scan(self, batch: ScanBatch) -> list[RawFinding]:
        ids = {item.id for item in batch.inputs}
        started = time.monotonic()
        try:
            results = list(self._scan(batch))
        except TicketscanError:
            raise
        except Exception as exc:
            raise ScannerError(
                f"crashed: {type(exc).__name__}: {exc}", plugin=self.name
            ) from exc
        for raw in results:
            if raw.document not in ids:
                raise ScannerError(
                    f"reported a finding in unknown document {raw.document!r}", plugin=self.name
                )
        self.elapsed = time.monotonic() - started
        return results

    def _scan(self, batch: ScanBatch) -> Iterable[RawFinding]:
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# Sinks


@dataclass
class PublishContext:
    """Where ``publish`` runs: the step's output folder and what earlier attempts delivered.

    ``delivery`` (routing, batching, retries) and ``state`` (alert-once) are filled in by the
    publish step from the configuration; left as None, every finding is routed, nothing is
    remembered and the default retry policy applies.
    """

    out_dir: Path
    dry_run: bool = False
    already_delivered: frozenset[str] = frozenset()
    manifest: Manifest | None = None
    delivery: DeliverySettings | None = None
    state: StateStore | None = None


class Sink(Component):
    """Delivers findings somewhere. Receives findings already redacted by core.

    Core's :meth:`publish` skips what earlier attempts delivered, applies the routing rules and
    alert-once, splits the rest into batches and calls :meth:`_publish` once per batch,
    retrying it (exponential backoff with jitter, bounded in count and time) when it raises
    :class:`ticketscan.delivery.SinkRetryError` or an ``OSError``. Any other exception fails
    that batch (its findings are listed in ``report.failed``); the other batches still go.
    """

    kind: ClassVar[Kind] = "sink"
    #: Findings per ``_publish`` call unless ``[delivery] batch_size`` says otherwise.
    batch_size: ClassVar[int] = 500
    #: True: one batch per ticket (a Slack message or an e-mail digest per ticket).
    batch_by_ticket: ClassVar[bool] = False
    #: False: the sink writes one artifact of all findings (a SARIF file): never split.
    batchable: ClassVar[bool] = True

    def publish(self, findings: Sequence[Finding], context: PublishContext) -> SinkReport:
        from . import delivery as dl

        report = SinkReport(sink=self.name)
        todo = [f for f in findings if f.id not in context.already_delivered]
        report.suppressed.extend(f.id for f in findings if f.id in context.already_delivered)
        if not todo:
            return report
        policy = context.delivery if context.delivery is not None else dl.DeliverySettings()
        routed: list[Finding] = []
        for f in todo:
            if policy.routed(f):
                routed.append(f)
            else:
                report.suppressed.append(f.id)
        store = context.state if policy.alert_once else None
        now = time.time()
        records: dict[str, AlertRecord] = {}
        if store is not None and routed:
            try:
                records = store.get({dl.alert_key(self.name, f) for f in routed})
            except Exception as exc:  # fail closed: unknown whether it already alerted
                report.error = f"state store {store.name}: {exc}"
                return report
            fresh = [
                f for f in routed
                if dl.should_alert(f, records.get(dl.alert_key(self.name, f)), policy.realert, now)
            ]
            fresh_ids = {f.id for f in fresh}
            report.suppressed.extend(f.id for f in routed if f.id not in fresh_ids)
            routed = fresh
        if not routed:
            return report
        size = policy.batch_size or self.batch_size
        if not self.batchable:
            batches = [routed]
        elif self.batch_by_ticket:
            batches = dl.group_by_ticket(routed, policy.batch_size)
        else:
            batches = dl.chunk(routed, size)
        deadline = time.monotonic() + policy.retry.max_elapsed
        try:
            for batch in batches:
                self._publish_batch(batch, context, report, policy, deadline)
        except Exception as exc:  # one failing sink never stops the others
            report.error = f"{type(exc).__name__}: {exc}"
        if store is not None and not context.dry_run:
            sent = set(report.delivered)
            new = {}
            for f in routed:
                key = dl.alert_key(self.name, f)
                if f.id in sent and key not in new:
                    new[key] = dl.updated_record(f, key, records.get(key), now)
            if new:
                try:
                    store.put(list(new.values()))
                except Exception as exc:
                    report.error = f"delivered, but state store {store.name} failed: {exc}"
        return report

    def _publish_batch(
        self,
        batch: list[Finding],
        context: PublishContext,
        report: SinkReport,
        policy: DeliverySettings,
        deadline: float,
    ) -> None:
        from . import delivery as dl

        pending = list(batch)
        attempt_report = SinkReport(sink=self.name)

        def attempt() -> None:
            nonlocal pending, attempt_report
            done = set(attempt_report.delivered)
            pending = [f for f in pending if f.id not in done]
            attempt_report = SinkReport(sink=self.name, delivered=sorted(done))
            if pending:
                self._publish(pending, context, attempt_report)

        try:
            dl.call_with_retry(
                attempt, policy.retry, deadline=deadline, what=f"sink {self.name}"
            )
        except Exception as exc:
            reason = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
            report.delivered.extend(attempt_report.delivered)
            report.suppressed.extend(attempt_report.suppressed)
            report.failed.update(attempt_report.failed)
            accounted = set(report.delivered) | set(report.failed) | set(report.suppressed)
            for f in batch:
                if f.id not in accounted:
                    report.failed[f.id] = reason
            return
        report.delivered.extend(attempt_report.delivered)
        report.suppressed.extend(attempt_report.suppressed)
        report.failed.update(attempt_report.failed)
        report.actions.extend(attempt_report.actions)
        accounted = set(report.delivered) | set(report.failed) | set(report.suppressed)
        report.delivered.extend(f.id for f in batch if f.id not in accounted)

    def _publish(
        self, findings: Sequence[Finding], context: PublishContext, report: SinkReport
    ) -> None:
        """Deliver one batch. Anything not marked failed/suppressed counts as delivered.

        Raise ``SinkRetryError`` (or let an ``OSError`` through) for a failure worth retrying;
        any other exception fails the batch. Check ``context.dry_run`` before sending.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; called once after publishing."""


# --------------------------------------------------------------------------------------------
# Transports


@dataclass
class Message:
    """A webhook event in transit: the body is exactly the webhook's JSON bytes."""

    body: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    #: Transport-specific handle used to ack/nack (set by ``receive``).
    handle: Any = None
    #: Delivery attempts so far, counting this one (set by ``receive``).
    attempt: int = 1

    @property
    def delivery_id(self) -> str:
        return self.attributes.get("delivery_id", "")


class Transport(Component):
    """Carries events from the receiver to the pipeline, at least once, with dedup by id."""

    kind: ClassVar[Kind] = "transport"

    def publish(self, message: Message) -> None:
        """Publish and return only after the broker confirmed it (raise otherwise)."""
        try:
            self._publish(message)
        except TransportError:
            raise
        except Exception as exc:
            raise TransportError(f"publish failed: {exc}", plugin=self.name) from exc

    def _publish(self, message: Message) -> None:
        raise NotImplementedError

    def receive(self, max_messages: int = 1, timeout: float = 1.0) -> list[Message]:
        """Up to ``max_messages`` messages, waiting at most ``timeout`` seconds."""
        raise NotImplementedError

    def ack(self, message: Message) -> None:
        raise NotImplementedError

    def nack(self, message: Message, delay: float = 0.0) -> None:
        """Give the message back for redelivery after ``delay`` seconds."""
        raise NotImplementedError

    def dead_letter(self, message: Message, error: str) -> None:
        """Move the message to the dead-letter destination with ``error``, then ack it."""
        raise NotImplementedError

    def ping(self) -> None:
        """Raise ``TransportError`` if the broker is unreachable (for ``/readyz``)."""

    def close(self) -> None:
        """Release connections."""


# --------------------------------------------------------------------------------------------
# State stores


class StateStore(Component):
    """Remembers which secrets each sink already alerted (alert-once), across runs and workers.

    Keys come from :func:`ticketscan.delivery.alert_key`; values are
    :class:`ticketscan.delivery.AlertRecord`. Implement ``_get`` and ``_put``.
    """

    kind: ClassVar[Kind] = "state_store"

    def get(self, keys: Iterable[str]) -> dict[str, AlertRecord]:
        """The records that exist for ``keys`` (missing keys are simply absent)."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        try:
            return self._get(wanted)
        except TicketscanError:
            raise
        except Exception as exc:
            raise PluginError(
                f"read failed: {type(exc).__name__}: {exc}", plugin=self.name
            ) from exc

    def put(self, records: Sequence[AlertRecord]) -> None:
        """Insert or replace ``records``."""
        if not records:
            return
        try:
            self._put(records)
        except TicketscanError:
            raise
        except Exception as exc:
            raise PluginError(
                f"write failed: {type(exc).__name__}: {exc}", plugin=self.name
            ) from exc

    def _get(self, keys: Sequence[str]) -> dict[str, AlertRecord]:
        raise NotImplementedError

    def _put(self, records: Sequence[AlertRecord]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""
