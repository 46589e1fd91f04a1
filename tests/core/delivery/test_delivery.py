"""Core delivery for every sink: routing, batching, bounded retries, alert-once, state stores."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from ticketscan.builtins.state import SqliteStateStore
from ticketscan.components import PublishContext, Sink, StateStore
from ticketscan.config import load_config
from ticketscan.delivery import (
    AlertRecord,
    DeliverySettings,
    RealertSettings,
    RetrySettings,
    Route,
    SinkRetryError,
    backoff_delays,
    delivery_settings,
    state_store_for,
)
from ticketscan.errors import ConfigError, SinkError
from ticketscan.models import Finding, Severity, SinkReport, TicketRef, Verified
from ticketscan.plugins import make_plugin_manager
from ticketscan.testing import sample_findings


class Recorder(Sink):
    name = "recorder"
    batch_size = 2

    def __init__(self, fail: list[Exception] | None = None) -> None:
        super().__init__()
        self.calls: list[list[str]] = []
        self.fail = list(fail or [])

    def _publish(self, findings: Sequence[Finding], context: PublishContext,
                 report: SinkReport) -> None:
        self.calls.append([f.id for f in findings])
        if self.fail:
            raise self.fail.pop(0)


class PerTicket(Recorder):
    name = "per-ticket"
    batch_by_ticket = True


FAST = RetrySettings(max_attempts=4, initial_backoff=0.001, max_elapsed=5)


def _ctx(tmp_path: Path, **kw: object) -> PublishContext:
    kw.setdefault("delivery", DeliverySettings(retry=FAST))
    return PublishContext(out_dir=tmp_path, **kw)  # type: ignore[arg-type]


def _findings() -> list[Finding]:
    return sample_findings("SEC-1") + sample_findings("OPS-2")


def test_routes_and_unrouted_findings_are_suppressed(tmp_path: Path) -> None:
    findings = _findings()
    policy = DeliverySettings(routes=[Route(min_severity=Severity.CRITICAL),
                                      Route(types=["slack-*"], projects=["OPS"])])
    report = Recorder().publish(findings, _ctx(tmp_path, delivery=policy))
    wanted = {f.id for f in findings if f.severity == Severity.CRITICAL
              or (f.type == "slack-token" and f.ticket.project == "OPS")}
    assert set(report.delivered) == wanted
    assert set(report.suppressed) == {f.id for f in findings} - wanted


def test_route_fields_all_must_match() -> None:
    f = sample_findings()[0]
    assert Route(systems=["jira"], types=["aws-*"]).matches(f)
    assert not Route(systems=["zendesk"], types=["aws-*"]).matches(f)
    assert Route(severities=[f.severity], verified=[Verified.UNKNOWN]).matches(f)
    assert not Route(verified=[Verified.TRUE]).matches(f)


def test_batches_use_the_sink_size_or_the_config(tmp_path: Path) -> None:
    sink = Recorder()
    sink.publish(_findings(), _ctx(tmp_path))
    assert [len(c) for c in sink.calls] == [2, 2, 2]
    sink = Recorder()
    sink.publish(_findings(), _ctx(tmp_path, delivery=DeliverySettings(batch_size=5)))
    assert [len(c) for c in sink.calls] == [5, 1]


def test_batch_by_ticket(tmp_path: Path) -> None:
    sink = PerTicket()
    sink.publish(_findings(), _ctx(tmp_path))
    assert [len(c) for c in sink.calls] == [3, 3]


def test_retryable_errors_are_retried_then_succeed(tmp_path: Path) -> None:
    sink = Recorder(fail=[SinkRetryError("busy"), ConnectionResetError("reset")])
    report = sink.publish(sample_findings(), _ctx(tmp_path))
    assert report.ok and len(report.delivered) == 3
    assert sink.calls[0] == sink.calls[1] == sink.calls[2]


def test_other_errors_fail_the_batch_and_others_still_go(tmp_path: Path) -> None:
    sink = Recorder(fail=[SinkError("rejected", plugin="recorder")])
    report = sink.publish(_findings(), _ctx(tmp_path))
    assert len(sink.calls) == 3
    assert set(report.failed) == set(sink.calls[0])
    assert set(report.failed.values()) == {"recorder: rejected"}
    assert len(report.delivered) == 4


def test_retries_are_bounded_in_count(tmp_path: Path) -> None:
    sink = Recorder(fail=[SinkRetryError("busy")] * 10)
    report = sink.publish(sample_findings()[:1], _ctx(tmp_path))
    assert len(sink.calls) == 4 and not report.ok


def test_retries_are_bounded_in_time(tmp_path: Path) -> None:
    policy = DeliverySettings(retry=RetrySettings(max_attempts=50, initial_backoff=0.2,
                                                  jitter="none", max_elapsed=0.5))
    sink = Recorder(fail=[SinkRetryError("busy")] * 50)
    started = time.monotonic()
    report = sink.publish(sample_findings()[:1], _ctx(tmp_path, delivery=policy))
    assert time.monotonic() - started < 1.0 and not report.ok
    assert 2 <= len(sink.calls) <= 3


def test_retry_after_longer_than_the_budget_gives_up(tmp_path: Path) -> None:
    sink = Recorder(fail=[SinkRetryError("slow down", retry_after=60)])
    started = time.monotonic()
    report = sink.publish(sample_findings()[:1], _ctx(tmp_path))
    assert time.monotonic() - started < 1 and len(sink.calls) == 1 and not report.ok


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    rules = RetrySettings(max_attempts=8, initial_backoff=1, multiplier=2, max_backoff=10,
                          jitter="none")
    assert list(backoff_delays(rules)) == [1, 2, 4, 8, 10, 10, 10]
    full = list(backoff_delays(rules.model_copy(update={"jitter": "full"}), random.Random(1)))
    assert all(0 <= d <= c for d, c in zip(full, [1, 2, 4, 8, 10, 10, 10], strict=True))
    assert len(set(full)) == len(full)


# ----------------------------------------------------------------------------- alert-once


class MemoryStore(StateStore):
    name = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, AlertRecord] = {}
        self.broken = False

    def _get(self, keys: Sequence[str]) -> dict[str, AlertRecord]:
        if self.broken:
            raise ConnectionError("store down")
        return {k: self.records[k] for k in keys if k in self.records}

    def _put(self, records: Sequence[AlertRecord]) -> None:
        self.records.update({r.key: r for r in records})


def _updated(findings: list[Finding], **changes: object) -> list[Finding]:
    """The same secrets after the ticket was edited: new ids, moved lines."""
    return [f.model_copy(update={"id": "u" + f.id[1:], **changes}) for f in findings]


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_alert_once_across_updates(store_kind: str, tmp_path: Path) -> None:
    store: StateStore = MemoryStore() if store_kind == "memory" else SqliteStateStore(
        SqliteStateStore.Settings(path=str(tmp_path / "state.db")))
    first = Recorder().publish(sample_findings(), _ctx(tmp_path, state=store))
    assert len(first.delivered) == 3
    again = Recorder()
    second = again.publish(_updated(sample_findings()), _ctx(tmp_path, state=store))
    assert again.calls == [] and len(second.suppressed) == 3 and second.ok
    other_sink = PerTicket().publish(sample_findings(), _ctx(tmp_path, state=store))
    assert len(other_sink.delivered) == 3  # alert-once is per sink
    other_ticket = Recorder().publish(sample_findings("SEC-2"), _ctx(tmp_path, state=store))
    assert len(other_ticket.delivered) == 3


def test_realert_when_verified_state_changes(tmp_path: Path) -> None:
    store = MemoryStore()
    Recorder().publish(sample_findings(), _ctx(tmp_path, state=store))
    live = _updated(sample_findings(), verified=Verified.TRUE)
    assert len(Recorder().publish(live, _ctx(tmp_path, state=store)).delivered) == 3
    policy = DeliverySettings(retry=FAST, realert=RealertSettings(on_verified_change=False))
    dead = _updated(sample_findings(), verified=Verified.FALSE)
    assert Recorder().publish(dead, _ctx(tmp_path, state=store, delivery=policy)).delivered == []


def test_realert_after_n_days(tmp_path: Path) -> None:
    store = MemoryStore()
    Recorder().publish(sample_findings(), _ctx(tmp_path, state=store))
    policy = DeliverySettings(retry=FAST, realert=RealertSettings(after_days=30))
    assert Recorder().publish(sample_findings(), _ctx(tmp_path, state=store,
                                                      delivery=policy)).delivered == []
    for record in store.records.values():
        record.last_alerted -= 31 * 86400
    again = Recorder().publish(sample_findings(), _ctx(tmp_path, state=store, delivery=policy))
    assert len(again.delivered) == 3
    assert {r.count for r in store.records.values()} == {2}


def test_failed_deliveries_are_not_remembered(tmp_path: Path) -> None:
    store = MemoryStore()
    report = Recorder(fail=[SinkError("no")]).publish(sample_findings()[:1],
                                                      _ctx(tmp_path, state=store))
    assert not report.ok and store.records == {}


def test_an_unreachable_store_fails_closed(tmp_path: Path) -> None:
    store = MemoryStore()
    store.broken = True
    sink = Recorder()
    report = sink.publish(sample_findings(), _ctx(tmp_path, state=store))
    assert sink.calls == [] and report.error and "store down" in report.error


def test_alert_once_can_be_switched_off_per_sink(tmp_path: Path) -> None:
    store = MemoryStore()
    policy = DeliverySettings(retry=FAST, alert_once=False)
    for _ in range(2):
        report = Recorder().publish(sample_findings(), _ctx(tmp_path, state=store,
                                                            delivery=policy))
        assert len(report.delivered) == 3


def test_same_secret_in_two_places_of_one_ticket_is_one_alert_key(tmp_path: Path) -> None:
    f = sample_findings()[0]
    moved = f.model_copy(update={"id": "x" + f.id[1:], "location": f.location.model_copy(
        update={"line": 40})})
    store = MemoryStore()
    Recorder().publish([f, moved], _ctx(tmp_path, state=store))
    assert len(store.records) == 1


# ------------------------------------------------------------------------------- config


def test_delivery_config_merges_defaults_and_sink_sections(tmp_path: Path) -> None:
    cfg = tmp_path / "ticketscan.toml"
    cfg.write_text(
        "[delivery]\nbatch_size = 10\n[delivery.retry]\nmax_attempts = 7\n"
        "[sinks.jsonl]\npath = 'x.jsonl'\n"
        "[sinks.jsonl.delivery]\nroutes = [{ min_severity = 'high' }]\n"
        "[sinks.jsonl.delivery.retry]\ninitial_backoff = 2\n"
        "[state]\nstore = 'sqlite'\n[state.sqlite]\npath = 'st.db'\n"
    )
    config = load_config(cfg, env={})
    policy = delivery_settings(config, "jsonl")
    assert policy.batch_size == 10 and policy.retry.max_attempts == 7
    assert policy.retry.initial_backoff == 2 and policy.routes[0].min_severity == Severity.HIGH
    assert delivery_settings(config, "stdout").routes == []
    from ticketscan.builtins.sinks import JsonlSink

    assert config.settings_for(JsonlSink).path == "x.jsonl"  # type: ignore[attr-defined]
    store = state_store_for(make_plugin_manager(), config)
    assert isinstance(store, SqliteStateStore)


def test_bad_delivery_config_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "ticketscan.toml"
    cfg.write_text("[sinks.jsonl.delivery]\nroutes = [{ min_severity = 'urgent' }]\n")
    with pytest.raises(ConfigError, match=r"sinks.jsonl.delivery.*routes.0.min_severity"):
        delivery_settings(load_config(cfg, env={}), "jsonl")


def test_sqlite_is_registered_as_a_state_store() -> None:
    plugins = make_plugin_manager()
    assert "sqlite" in plugins.names("state_store")
    assert plugins.state_store("sqlite") is SqliteStateStore


def test_sqlite_store_keeps_records_across_instances(tmp_path: Path) -> None:
    path = str(tmp_path / "a" / "state.db")
    one = SqliteStateStore(SqliteStateStore.Settings(path=path))
    one.put([AlertRecord("k1", 1.0, 2.0, "true", 3)])
    one.close()
    two = SqliteStateStore(SqliteStateStore.Settings(path=path))
    assert two.get(["k1", "k2"]) == {"k1": AlertRecord("k1", 1.0, 2.0, "true", 3)}
    two.close()


def test_ticket_ref_is_part_of_the_key() -> None:
    from ticketscan.delivery import alert_key

    f = sample_findings()[0]
    g = f.model_copy(update={"ticket": TicketRef(system="zendesk", key="SEC-1")})
    assert alert_key("s", f) != alert_key("s", g) != alert_key("t", g)
    assert f.secret_sha256 in alert_key("s", f)


def test_sarif_gets_every_finding_in_one_file_whatever_the_batch_size(tmp_path: Path) -> None:
    import json

    from ticketscan.builtins.sinks import SarifSink

    findings = _findings()
    report = SarifSink().publish(findings, _ctx(tmp_path, delivery=DeliverySettings(batch_size=1)))
    assert report.ok
    sarif = json.loads((tmp_path / "ticketscan-findings.sarif").read_text())
    assert len(sarif["runs"][0]["results"]) == len(findings)
