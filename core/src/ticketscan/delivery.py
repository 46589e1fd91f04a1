"""What every sink gets from core: routing, alert-once, batching and bounded retries.

:meth:`ticketscan.Sink.publish` applies these around the plugin's ``_publish``, so a
third-party sink gets them too without writing a line::

    findings ─► skip what publish-report.json says was delivered   (retried Argo step)
             ─► routing rules                   unrouted ─► report.suppressed
             ─► alert-once (state store)        already alerted ─► report.suppressed
             ─► batches (sink's size, or by ticket)
             ─► _publish(batch)  retried with exponential backoff + jitter on
                                 SinkRetryError / OSError, bounded in count and time
             ─► delivered ids recorded in the state store

Configuration (``ticketscan.toml``): defaults for every sink in ``[delivery]``, per sink in
``[sinks.NAME.delivery]`` (merged over the defaults)::

    [delivery]
    batch_size = 100

    [delivery.retry]
    max_attempts = 5
    initial_backoff = 0.5
    max_backoff = 30
    max_elapsed = 120

    [delivery.realert]
    after_days = 30
    on_verified_change = true

    [sinks.slack.delivery]
    routes = [{ min_severity = "high" }, { types = ["private-key"] }]

    [state]
    store = "sqlite"             # alert-once is on when a store is configured

    [state.sqlite]
    path = "/var/lib/ticketscan/state.db"
"""

from __future__ import annotations

import fnmatch
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError, SinkError
from .models import Finding, Severity, Verified

if TYPE_CHECKING:
    from .components import StateStore
    from .config import Config
    from .plugins import Plugins

__all__ = [
    "AlertRecord",
    "DeliverySettings",
    "RealertSettings",
    "RetrySettings",
    "Route",
    "SinkRetryError",
    "alert_key",
    "backoff_delays",
    "call_with_retry",
    "chunk",
    "delivery_settings",
    "group_by_ticket",
    "should_alert",
    "state_store_for",
]

log = logging.getLogger("ticketscan.delivery")


class SinkRetryError(SinkError):
    """A delivery failed in a way that may succeed later (HTTP 429/5xx, busy, unreachable).

    ``retry_after`` (seconds) is honoured when the remote said how long to wait.
    """

    def __init__(
        self, message: str, *, plugin: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, plugin=plugin)
        self.retry_after = retry_after


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Route(_Strict):
    """One routing rule. Every field given must match (AND); a sink's rules are OR-ed.

    ``types``, ``systems`` and ``projects`` are shell-style patterns (``aws-*``).
    """

    min_severity: Severity | None = None
    severities: list[Severity] = Field(default_factory=list)
    types: list[str] = Field(default_factory=list)
    systems: list[str] = Field(default_factory=list)
    projects: list[str] = Field(default_factory=list)
    verified: list[Verified] = Field(default_factory=list)

    def matches(self, finding: Finding) -> bool:
        if self.min_severity is not None and finding.severity.rank < self.min_severity.rank:
            return False
        if self.severities and finding.severity not in self.severities:
            return False
        if self.types and not _any_match(finding.type, self.types):
            return False
        if self.systems and not _any_match(finding.ticket.system, self.systems):
            return False
        if self.projects and not _any_match(finding.ticket.project or "", self.projects):
            return False
        return not (self.verified and finding.verified not in self.verified)


def _any_match(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


class RetrySettings(_Strict):
    """Exponential backoff with jitter, bounded in attempts and in total time."""

    max_attempts: int = Field(
        default=5, ge=1, le=100, description="Tries per batch, the first included."
    )
    initial_backoff: float = Field(default=0.5, ge=0, description="Seconds before the 2nd try.")
    multiplier: float = Field(default=2.0, ge=1)
    max_backoff: float = Field(default=30.0, ge=0, description="Cap on one wait (seconds).")
    max_elapsed: float = Field(
        default=120.0, gt=0, description="Give up once this many seconds have passed (per sink)."
    )
    jitter: Literal["full", "equal", "none"] = "full"


class RealertSettings(_Strict):
    """When an already-alerted secret alerts again."""

    after_days: float | None = Field(
        default=None, gt=0, description="Alert again once this many days passed since the last."
    )
    on_verified_change: bool = Field(
        default=True, description="Alert again when the verified state changed."
    )


class DeliverySettings(_Strict):
    """``[delivery]`` merged with ``[sinks.NAME.delivery]``."""

    routes: list[Route] = Field(
        default_factory=list, description="Send only findings matching one rule (none: all)."
    )
    batch_size: int | None = Field(default=None, ge=1, description="Default: the sink's own.")
    retry: RetrySettings = Field(default_factory=RetrySettings)
    alert_once: bool = Field(
        default=True, description="Skip secrets this sink already alerted (needs a [state] store)."
    )
    realert: RealertSettings = Field(default_factory=RealertSettings)

    def routed(self, finding: Finding) -> bool:
        return not self.routes or any(route.matches(finding) for route in self.routes)


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def delivery_settings(config: Config, sink: str) -> DeliverySettings:
    """The delivery policy of one sink: ``[delivery]`` overlaid by ``[sinks.NAME.delivery]``."""
    base = config.data.get("delivery", {})
    sinks = config.data.get("sinks", {})
    own = sinks.get(sink, {}).get("delivery", {}) if isinstance(sinks.get(sink), dict) else {}
    if not isinstance(base, Mapping) or not isinstance(own, Mapping):
        raise ConfigError("must be a table", file=config._file(), section="delivery")
    section = f"sinks.{sink}.delivery" if own else "delivery"
    try:
        return DeliverySettings.model_validate(_deep_merge(base, own))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(
            err["msg"],
            file=config._file(),
            section=section,
            key=".".join(str(p) for p in err["loc"]) or None,
        ) from None


def state_store_for(plugins: Plugins, config: Config) -> StateStore | None:
    """The configured state store (``[state] store = NAME``), or None when alert-once is off."""
    section = config.data.get("state", {})
    name = section.get("store") if isinstance(section, Mapping) else None
    if not name or name == "none":
        return None
    if not isinstance(name, str):
        raise ConfigError("must be a store name", file=config._file(), section="state", key="store")
    cls = plugins.state_store(name)
    return cls(config.settings_for(cls))


# ----------------------------------------------------------------------------- alert-once


@dataclass
class AlertRecord:
    """What a state store remembers about one alerted secret, per sink."""

    key: str
    first_alerted: float
    last_alerted: float
    verified: str
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "first_alerted": self.first_alerted,
            "last_alerted": self.last_alerted,
            "verified": self.verified,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertRecord:
        return cls(
            key=str(data["key"]),
            first_alerted=float(data["first_alerted"]),
            last_alerted=float(data["last_alerted"]),
            verified=str(data["verified"]),
            count=int(data.get("count", 1)),
        )


def alert_key(sink: str, finding: Finding) -> str:
    """Same secret, same ticket, same sink: one alert (``sink|system|ticket|secret_sha256``)."""
    return "|".join([sink, finding.ticket.system, finding.ticket.key, finding.secret_sha256])


def should_alert(
    finding: Finding, record: AlertRecord | None, rules: RealertSettings, now: float
) -> bool:
    if record is None:
        return True
    if rules.after_days is not None and now - record.last_alerted >= rules.after_days * 86400:
        return True
    return rules.on_verified_change and record.verified != finding.verified.value


def updated_record(finding: Finding, key: str, old: AlertRecord | None, now: float) -> AlertRecord:
    if old is None:
        return AlertRecord(key, now, now, finding.verified.value, 1)
    return AlertRecord(key, old.first_alerted, now, finding.verified.value, old.count + 1)


# -------------------------------------------------------------------------------- batching


def chunk(findings: Sequence[Finding], size: int) -> list[list[Finding]]:
    return [list(findings[i : i + size]) for i in range(0, len(findings), max(1, size))]


def group_by_ticket(findings: Sequence[Finding], size: int | None = None) -> list[list[Finding]]:
    """One batch per ticket (in first-seen order), split further when ``size`` is given."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.ticket.system, finding.ticket.key), []).append(finding)
    out: list[list[Finding]] = []
    for group in groups.values():
        out.extend(chunk(group, size) if size else [group])
    return out


# --------------------------------------------------------------------------------- retries


def backoff_delays(rules: RetrySettings, rng: random.Random | None = None) -> Iterable[float]:
    """The waits between attempts (``max_attempts - 1`` of them), with jitter."""
    rng = rng or random.Random()
    base = rules.initial_backoff
    for _ in range(rules.max_attempts - 1):
        capped = min(base, rules.max_backoff)
        if rules.jitter == "full":
            yield rng.uniform(0, capped)
        elif rules.jitter == "equal":
            yield capped / 2 + rng.uniform(0, capped / 2)
        else:
            yield capped
        base *= rules.multiplier


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, SinkRetryError | OSError)


def call_with_retry(
    attempt: Callable[[], None],
    rules: RetrySettings,
    *,
    deadline: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run ``attempt`` until it returns; retry retryable errors within count and deadline.

    Returns the number of attempts made; re-raises the last error when giving up.
    """
    delays = iter(backoff_delays(rules))
    tries = 0
    while True:
        tries += 1
        try:
            attempt()
            return tries
        except Exception as exc:
            if not is_retryable(exc):
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                delay = max(delay, float(retry_after))
            if clock() + delay > deadline:
                log.warning("%s: giving up after %d attempt(s): time budget spent", what, tries)
                raise
            log.info("%s: attempt %d failed (%s); retrying in %.2f s", what, tries, exc, delay)
            sleep(delay)
