"""Suppression: defaults, the allowlist (sha256, regex, type, project) and the baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from ticketscan.errors import ConfigError, InputError
from ticketscan.models import sha256_text
from ticketscan.suppress import (
    Allowlist,
    SuppressSettings,
    load_allowlist,
    load_suppression,
    read_baseline,
    suppression_reason,
    write_baseline,
)
from ticketscan.testing import sample_findings

AWS = "AKIA2OGYBAH6STMJ4HJQ"


@pytest.mark.parametrize("value", [
    "AKIAIOSFODNN7EXAMPLE", "<your-api-key>", "${GITHUB_TOKEN}", "{{ secret }}", "changeme",
    "********", "xxxxxxxx", "sk_live_…[28 chars]", "REDACTED", "[hidden]",
])
def test_defaults_drop_examples_placeholders_and_redacted(value: str) -> None:
    assert suppression_reason(value) is not None


@pytest.mark.parametrize("value", [AWS, "sk_live_4qTb9ZxLk2VwR7nPc3JmYd8H", "Tr0ub4dor&3xq"])
def test_defaults_keep_real_looking_secrets(value: str) -> None:
    assert suppression_reason(value) is None


def test_allowlist_regex_and_sha256_apply_to_the_secret_in_clear() -> None:
    settings = SuppressSettings(regex=["^AKIA2OGY"], sha256=[sha256_text("s3cr3t-v4lue-x")])
    allow = load_allowlist(settings)
    assert allow.secret_reason(AWS) == "allowlist: regex"
    assert allow.secret_reason("s3cr3t-v4lue-x") == "allowlist: sha256"
    assert allow.secret_reason("another-s3cr3t-9") is None


def test_defaults_can_be_turned_off() -> None:
    assert Allowlist(defaults=False).secret_reason("AKIAIOSFODNN7EXAMPLE") is None


def test_allowlist_file_entries_by_type_and_project(tmp_path: Path) -> None:
    (tmp_path / "allow.toml").write_text(
        '[[allow]]\ntype = "slack-token"\nreason = "test workspace"\n'
        '[[allow]]\nproject = "SANDBOX"\n'
    )
    config = tmp_path / "ticketscan.toml"
    suppression = load_suppression({"suppress": {"allowlist": "allow.toml"}}, config)
    findings = sample_findings("SEC-1") + sample_findings("SANDBOX-7")
    kept, allowed, known = suppression.apply(findings)
    assert {f.ticket.project for f in kept} == {"SEC"}
    assert "slack-token" not in {f.type for f in kept}
    assert allowed == len(findings) - len(kept) and known == 0


@pytest.mark.parametrize("body, message", [
    ("[[allow]]\nregex = '('\n", "bad allowlist regex"),
    ("[[allow]]\ntype = 'a'\nproject = 'b'\n", "exactly one of"),
    ("[[allow]]\nsha256 = 'abc'\n", "entry 1"),
    ("allow = 3\n", "array of tables"),
    ("[[allow]\n", "not valid TOML"),
])
def test_a_bad_allowlist_is_a_config_error(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "allow.toml").write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_suppression({"suppress": {"allowlist": str(tmp_path / "allow.toml")}})


def test_unknown_suppress_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="suppress"):
        load_suppression({"suppress": {"alowlist": "x"}})


def test_baseline_round_trip_holds_no_secret_hash(tmp_path: Path) -> None:
    findings = sample_findings()
    path = tmp_path / "baseline.json"
    assert write_baseline(path, findings) == len(findings)
    text = path.read_text()
    for f in findings:
        assert f.secret_sha256 not in text
    assert set(read_baseline(path)) == {f.fingerprint for f in findings}
    assert write_baseline(path, sample_findings("OPS-2"), update=True) == 2 * len(findings)


@pytest.mark.parametrize("body", ["not json", "[]", '{"schema": "other"}',
                                  '{"schema": "ticketscan-baseline/1", "fingerprints": []}'])
def test_a_bad_baseline_is_an_input_error(tmp_path: Path, body: str) -> None:
    (tmp_path / "b.json").write_text(body)
    with pytest.raises(InputError):
        read_baseline(tmp_path / "b.json")


@given(st.text(max_size=60))
def test_suppression_reason_never_crashes(value: str) -> None:
    assert suppression_reason(value) in (None, "documented example key", "placeholder",
                                          "already redacted")


def test_baseline_cli_then_merge_reports_only_new_findings(tmp_path: Path, cli) -> None:
    old, new = sample_findings("SEC-1"), sample_findings("SEC-2")
    (tmp_path / "old.jsonl").write_text("".join(f.model_dump_json() + "\n" for f in old))
    (tmp_path / "all.jsonl").write_text(
        "".join(f.model_dump_json() + "\n" for f in old + new)
    )
    result = cli(["baseline", str(tmp_path / "old.jsonl"), "--out", str(tmp_path / "b.json")])
    assert result.returncode == 0, result.stderr
    (tmp_path / "ticketscan.toml").write_text('[suppress]\nbaseline = "b.json"\n')
    result = cli(["--config", str(tmp_path / "ticketscan.toml"), "merge",
                  str(tmp_path / "all.jsonl"), "--out", str(tmp_path / "merged.jsonl")])
    assert result.returncode == 0, result.stderr
    merged = [json.loads(line) for line in (tmp_path / "merged.jsonl").read_text().splitlines()]
    assert {m["ticket"]["key"] for m in merged} == {"SEC-2"}
    assert len(merged) == len(new)


def test_scan_applies_the_allowlist_regex_and_baseline(tmp_path: Path, cli) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(
        f"aws_access_key_id={AWS}\nkey ghp_x sk_live_4qTb9ZxLk2VwR7nPc3JmYd8H\n"
    )
    config = tmp_path / "ticketscan.toml"
    config.write_text('[suppress]\nregex = ["^AKIA2OGY"]\n')
    out = tmp_path / "f.jsonl"
    result = cli(["--config", str(config), "scan", str(docs), "--scanner", "detect-secrets",
                  "--out", str(out)])
    assert result.returncode == 0, result.stderr
    found = [json.loads(line) for line in out.read_text().splitlines()]
    assert found and sha256_text(AWS) not in {f["secret_sha256"] for f in found}
    cli(["baseline", str(out), "--out", str(tmp_path / "b.json")])
    config.write_text('[suppress]\nbaseline = "b.json"\n')
    result = cli(["--config", str(config), "scan", str(docs), "--scanner", "detect-secrets",
                  "--out", str(out)])
    assert result.returncode == 0, result.stderr
    remaining = [json.loads(line) for line in out.read_text().splitlines()]
    assert [f["secret_sha256"] for f in remaining] == [sha256_text(AWS)]
