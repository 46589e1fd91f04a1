"""The README's main job: `ticketscan run --sample` on embedded defaults, end to end."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
from ticketscan.testing import assert_no_secrets


def _planted(repo_root: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads(
        (repo_root / "tests" / "fixtures" / "sample-secrets.json").read_text()
    )
    return data


def test_sample_run_finds_planted_secrets_and_writes_valid_sarif(
    cli, tmp_path: Path, repo_root: Path, fixtures_dir: Path
) -> None:
    out = tmp_path / "out"
    result = cli(["run", "--sample", "--out", str(out)])
    assert result.returncode == 0, result.stderr
    planted = _planted(repo_root)
    findings = [json.loads(line) for line in (out / "findings.jsonl").read_text().splitlines()]
    found = {f["secret_sha256"] for f in findings}
    # the default scanners (auto: fastscan + kingfisher) find every planted secret
    for name in planted:
        assert hashlib.sha256(planted[name].encode()).hexdigest() in found, name
    # the documented AWS example key is suppressed by default
    assert "AKIAIOSFODNN7EXAMPLE" not in (out / "findings.jsonl").read_text()
    assert "secret(s) found" in result.stdout

    sarif = json.loads((out / "findings.sarif").read_text())
    schema = json.loads((fixtures_dir / "sarif" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    assert len(sarif["runs"][0]["results"]) == len(findings)

    report = json.loads((out / "publish-report.json").read_text())
    assert report["sinks"]["stdout"]["error"] is None

    outputs = [result.stdout, result.stderr]
    for path in out.rglob("*"):
        if path.is_file() and "documents" not in path.relative_to(out).parts:
            outputs.append(path.read_text(errors="replace"))
    assert_no_secrets(outputs, planted.values())


def test_each_step_is_idempotent(cli, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        assert cli(["run", "--sample", "--out", str(out)]).returncode == 0
    for name in ("findings.jsonl", "findings.sarif", "documents/manifest.json"):
        assert (first / name).read_text() == (second / name).read_text(), name
    # re-running a step over its own output folder gives the same files
    again = cli(["run", "--sample", "--out", str(first)])
    assert again.returncode == 0
    assert (first / "findings.jsonl").read_text() == (second / "findings.jsonl").read_text()


def test_steps_by_hand_equal_run(cli, tmp_path: Path) -> None:
    run_out = tmp_path / "run"
    assert cli(["run", "--sample", "--out", str(run_out)]).returncode == 0
    event = (
        Path(
            json.loads((run_out / "documents" / "manifest.json").read_text())["event"]["payload"][
                "paths"
            ][0]
        ).parent
        / "sample-event.json"
    )
    docs, scan_out, merged = tmp_path / "docs", tmp_path / "f-ds.jsonl", tmp_path / "findings.jsonl"
    assert cli(["fetch", "--event", str(event), "--out", str(docs)]).returncode == 0
    assert (
        cli(["scan", str(docs), "--out", str(scan_out)]).returncode == 0  # default: auto
    )
    assert (
        cli(
            ["merge", str(scan_out), "--out", str(merged), "--sarif", str(tmp_path / "f.sarif")]
        ).returncode
        == 0
    )
    assert merged.read_text() == (run_out / "findings.jsonl").read_text()
    publish = cli(
        ["publish", str(merged), "--sink", "jsonl", "--sink", "stdout", "--out", str(tmp_path)]
    )
    assert publish.returncode == 0, publish.stderr
    report = json.loads((tmp_path / "publish-report.json").read_text())
    n = len(merged.read_text().splitlines())
    assert len(report["sinks"]["jsonl"]["delivered"]) == n
    # a retried publish sends nothing twice
    again = cli(["publish", str(merged), "--sink", "jsonl", "--out", str(tmp_path)])
    assert again.returncode == 0
    assert len((tmp_path / "ticketscan-findings.jsonl").read_text().splitlines()) == n
