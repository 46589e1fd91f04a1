"""SARIF output validates against the official SARIF 2.1.0 schema (../shared/fixtures/sarif)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from ticketscan.sarif import to_sarif
from ticketscan.testing import SAMPLE_SECRETS, assert_no_secrets, sample_findings


def _validator(fixtures_dir: Path) -> jsonschema.Draft4Validator:
    schema = json.loads((fixtures_dir / "sarif" / "sarif-schema-2.1.0.json").read_text())
    return jsonschema.Draft4Validator(schema)


def test_sarif_validates_against_the_schema(fixtures_dir: Path) -> None:
    log = to_sarif(sample_findings())
    errors = sorted(_validator(fixtures_dir).iter_errors(log), key=str)
    assert not errors, errors[:3]


def test_empty_sarif_validates(fixtures_dir: Path) -> None:
    assert not list(_validator(fixtures_dir).iter_errors(to_sarif([])))


def test_sarif_has_what_github_and_defectdojo_read() -> None:
    log = to_sarif(sample_findings())
    run = log["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    for result in run["results"]:
        assert result["ruleId"] in rules
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert "security-severity" in rules[result["ruleId"]]["properties"]
        assert result["partialFingerprints"]["ticketscan/v1"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1


def test_sarif_never_holds_a_secret() -> None:
    assert_no_secrets([json.dumps(to_sarif(sample_findings()))], SAMPLE_SECRETS.values())
