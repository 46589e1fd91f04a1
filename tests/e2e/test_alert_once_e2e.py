"""Alert once, end to end: repeated `ticketscan run`s of an updated ticket alert each secret once.

Real pieces: the CLI in a fresh process, the files source, detect-secrets, the jsonl sink, the
syslog sink delivering to a real rsyslogd over TCP, and the sqlite state store.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "siem"))

from siem_rsyslogd import Rsyslog, start_rsyslog, stop_rsyslog
from ticketscan.testing import assert_no_secrets
from ticketscan_siem import cef

pytestmark = pytest.mark.integration

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def fake_aws_key(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choice(B32) for _ in range(16))


@pytest.fixture
def syslogd(tmp_path: Path) -> Iterator[Rsyslog]:
    server = start_rsyslog(tmp_path / "rsyslog")
    yield server
    stop_rsyslog(server)


def _run(cli, tmp_path: Path, out: str):  # type: ignore[no-untyped-def]
    result = cli(["--config", str(tmp_path / "ticketscan.toml"), "run",
                  "--event", str(tmp_path / "event.json"), "--out", str(tmp_path / out)],
                 cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _alerted(server: Rsyslog) -> list[dict[str, str]]:
    return [cef.parse(line).ext() for line in server.lines()]


def test_an_updated_ticket_alerts_each_secret_once(cli, tmp_path: Path, syslogd: Rsyslog) -> None:
    rng = random.Random()
    first_key, second_key = fake_aws_key(rng), fake_aws_key(rng)
    ticket = tmp_path / "ticket"
    ticket.mkdir()
    (ticket / "description.txt").write_text(
        f"Customer says the deploy fails.\naws_access_key_id = {first_key}\n")
    (tmp_path / "event.json").write_text(json.dumps(
        {"source": "files", "ticket": "SEC-77", "url": "https://support.example.com/t/SEC-77",
         "paths": ["ticket"]}))
    (tmp_path / "ticketscan.toml").write_text(f"""
[pipeline]
scanners = ["detect-secrets"]
sinks = ["jsonl", "syslog"]

[sinks.jsonl]
path = "alerts.jsonl"

[sinks.syslog]
host = "127.0.0.1"
port = {syslogd.tcp_port}
protocol = "tcp"

[state]
store = "sqlite"

[state.sqlite]
path = "{tmp_path / 'state.db'}"
""")
    outputs = [_run(cli, tmp_path, "run-1")]
    first = _alerted(syslogd)
    assert len(first) == 1 and first[0]["cat"] == "aws-access-key-id"
    assert first[0]["cs1"] == "files:SEC-77"

    # the ticket is updated: text moves, the same key is pasted again in a new comment
    (ticket / "description.txt").write_text(
        f"Customer says the deploy fails.\n\n(edited)\nkey: aws_access_key_id = {first_key}\n")
    (ticket / "comment-1.txt").write_text(f"here it is again: aws_access_key_id={first_key}\n")
    outputs.append(_run(cli, tmp_path, "run-2"))
    assert _alerted(syslogd) == first
    findings_2 = (tmp_path / "run-2" / "findings.jsonl").read_text().splitlines()
    assert len(findings_2) == 2  # still found (two places); just not alerted again
    report_2 = json.loads((tmp_path / "run-2" / "publish-report.json").read_text())
    assert report_2["sinks"]["syslog"]["delivered"] == []
    assert len(report_2["sinks"]["syslog"]["suppressed"]) == 2

    # a new secret in a later update alerts, the old one still does not
    (ticket / "comment-2.txt").write_text(f"new one: aws_access_key_id={second_key}\n")
    outputs.append(_run(cli, tmp_path, "run-3"))
    alerted = _alerted(syslogd)
    assert len(alerted) == 2
    assert alerted[1]["fname"].endswith("comment-2.txt")

    # and the same run again changes nothing
    outputs.append(_run(cli, tmp_path, "run-4"))
    assert len(_alerted(syslogd)) == 2
    jsonl_runs = [(tmp_path / f"run-{n}" / "alerts.jsonl") for n in (1, 3)]
    assert [len(p.read_text().splitlines()) for p in jsonl_runs] == [1, 1]
    assert not (tmp_path / "run-2" / "alerts.jsonl").exists()

    everything: list[str | bytes] = [syslogd.out.read_bytes()]
    for out in tmp_path.glob("run-*/*.json*"):
        everything.append(out.read_bytes())
    everything += [r.stdout + r.stderr for r in outputs]
    assert_no_secrets(everything, [first_key, second_key])
