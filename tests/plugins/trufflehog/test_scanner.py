"""The trufflehog scanner's subprocess path, run against a STAND-IN executable.

No genuine trufflehog binary can be installed on these machines (see SERVICES.md); the
stand-in (conftest.py) replays real trufflehog output samples. The container image carries
the real binary.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ticketscan.config import load_config
from ticketscan.documents import DocumentWriter
from ticketscan.errors import ScannerError
from ticketscan.models import Part, TicketEvent, TicketRef, Verified, sha256_text
from ticketscan.plugins import make_plugin_manager
from ticketscan.steps import scan
from ticketscan.testing import assert_no_secrets


def _docs(tmp_path: Path, text: str) -> Path:
    event = TicketEvent(system="files", event_type="t", delivery_id="t",
                        ticket=TicketRef(system="files", key="TH-1"))
    writer = DocumentWriter(tmp_path / "documents", event)
    writer.add_text(part=Part.COMMENT, path="TH-1/comment/1", text=text)
    writer.close()
    return tmp_path / "documents"


def _scan(tmp_path: Path, binary: Path, text: str, **settings: object):
    config = load_config(env={})
    config.data["scanners"] = {"trufflehog": {"binary": str(binary), **settings}}
    config.pipeline.decode = False
    return scan(make_plugin_manager(), config, _docs(tmp_path, text), ["trufflehog"])


def _text(secrets: dict[str, str]) -> str:
    return (
        "Hi, the test site login is " + secrets["URI"] + " if you need it.\n"
        "Our deploy key:\n" + secrets["PrivateKey"] + "\nand the AWS key "
        + secrets["AWS"] + " from the docs.\n"
    )


def test_findings_point_at_the_secret_and_hold_no_secret(
    tmp_path: Path, stand_in: Path, secrets_by_detector: dict[str, str]
) -> None:
    secrets = secrets_by_detector
    text = _text(secrets)
    outcome = _scan(tmp_path, stand_in, text)
    by_type = {f.type: f for f in outcome.findings}
    # the AWS key in the samples is AWS's documented example: suppressed by default
    assert set(by_type) == {"url-credentials", "private-key"}
    uri = by_type["url-credentials"]
    line = text.splitlines()[uri.location.line - 1]
    cut = line[uri.location.column - 1 : uri.location.end_column - 1]
    assert sha256_text(cut) == uri.secret_sha256 == sha256_text(secrets["URI"])
    assert by_type["private-key"].location.line == 3
    assert all(f.verified is Verified.UNKNOWN for f in outcome.findings)
    assert_no_secrets([f.model_dump_json() for f in outcome.findings],
                      [secrets["URI"], secrets["PrivateKey"]])


def test_verification_is_off_unless_enabled(tmp_path: Path, stand_in: Path) -> None:
    _scan(tmp_path, stand_in, "nothing here\n")
    calls = [json.loads(line) for line in (tmp_path / "argv.jsonl").read_text().splitlines()]
    run = next(c for c in calls if c[0] == "filesystem")
    assert "--no-verification" in run and "--json" in run and "--no-update" in run


def test_verify_true_drops_the_flag_and_reports_verified(
    tmp_path: Path, stand_in: Path, secrets_by_detector: dict[str, str]
) -> None:
    secrets = secrets_by_detector
    outcome = _scan(tmp_path, stand_in, _text(secrets), verify=True)
    calls = [json.loads(line) for line in (tmp_path / "argv.jsonl").read_text().splitlines()]
    assert "--no-verification" not in next(c for c in calls if c[0] == "filesystem")
    assert outcome.findings
    assert all(f.verified is Verified.TRUE for f in outcome.findings)


def test_missing_binary_fails_the_scan_naming_trufflehog(tmp_path: Path) -> None:
    with pytest.raises(ScannerError) as err:
        _scan(tmp_path, tmp_path / "no-such-trufflehog", "text\n")
    assert "trufflehog" in str(err.value) and "does not exist" in str(err.value)


def test_v2_binary_is_refused(tmp_path: Path, stand_in_factory) -> None:
    old = stand_in_factory("2.2.1")
    with pytest.raises(ScannerError) as err:
        _scan(tmp_path, old, "text\n")
    assert "not v3" in str(err.value)


def test_a_crash_is_reported_with_stderr_redacted(
    tmp_path: Path, stand_in: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_CRASH", "1")
    with pytest.raises(ScannerError) as err:
        _scan(tmp_path, stand_in, "text\n")
    message = str(err.value)
    assert "exited with code 2" in message
    assert "AKIA2OGYBAH6STMJ4HJQ" not in message
