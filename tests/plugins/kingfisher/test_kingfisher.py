"""Kingfisher specifics, against the real Kingfisher 2.14 CLI (kingfisher-bin wheel)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from ticketscan.components import ScanBatch, ScanInput
from ticketscan.config import load_config
from ticketscan.documents import DocumentWriter
from ticketscan.errors import ScannerError
from ticketscan.models import Part, TicketEvent, TicketRef, Verified, sha256_text
from ticketscan.plugins import make_plugin_manager
from ticketscan.steps import scan
from ticketscan.taxonomy import CANONICAL_TYPES, KingfisherRules
from ticketscan_kingfisher.scanner import KingfisherScanner, bundled_binary, parse_report

SLACK = "xoxb-284719305521-3948572019384-Qz8vLm2KpX4nRt7WcY1sBa9D"
STRIPE = "sk_live_4qTb9ZxLk2VwR7nPc3JmYd8H"


def _docs(tmp_path: Path, text: str) -> Path:
    event = TicketEvent(system="files", event_type="t", delivery_id="t",
                        ticket=TicketRef(system="files", key="KF-1"))
    writer = DocumentWriter(tmp_path / "documents", event)
    writer.add_text(part=Part.COMMENT, path="KF-1/comment/1", text=text)
    writer.close()
    return tmp_path / "documents"


def _scan(tmp_path: Path, text: str, **settings: object):
    config = load_config(env={})
    config.data["scanners"] = {"kingfisher": dict(settings)}
    config.pipeline.decode = False
    return scan(make_plugin_manager(), config, _docs(tmp_path, text), ["kingfisher"]).findings


def _kingfisher_json(tmp_path: Path, text: str) -> tuple[dict, ScanBatch]:
    root = tmp_path / "in"
    root.mkdir()
    target = root / "doc.txt"
    target.write_text(text)
    out = tmp_path / "out.json"
    subprocess.run(
        [bundled_binary(), "scan", str(root), "--no-validate", "--no-update-check", "-f", "json",
         "-o", str(out), "-q", "--no-dedup"],
        check=False, capture_output=True,
        env={"KF_RULE_CACHE_DIR": str(KingfisherScanner().cache_dir(tmp_path)), "PATH": ""},
    )
    batch = ScanBatch(root=root, inputs=[ScanInput("doc", target)], workdir=tmp_path)
    return json.loads(out.read_text()), batch


def test_multibyte_prefix_columns_map_to_characters(tmp_path: Path) -> None:
    text = f"intro\n  éé ключ {STRIPE} ok\n😀 {SLACK}\n"
    findings = _scan(tmp_path, text)
    assert len(findings) == 2
    lines = text.splitlines()
    for f in findings:
        loc = f.location
        cut = lines[loc.line - 1][loc.column - 1 : loc.end_column - 1]
        assert sha256_text(cut) == f.secret_sha256


def test_validation_is_off_unless_enabled() -> None:
    off = KingfisherScanner().argv("kf", Path("/in"), Path("/out.json"))
    on = KingfisherScanner(KingfisherScanner.Settings.model_validate({"validate": True}))
    assert "--no-validate" in off
    assert "--no-validate" not in on.argv("kf", Path("/in"), Path("/out.json"))
    assert "--no-update-check" in off and "--no-dedup" in off


def test_validation_outcome_lands_in_verified_only_when_enabled(tmp_path: Path) -> None:
    report, batch = _kingfisher_json(tmp_path, f"token {SLACK}\n")
    (item,) = report["findings"]
    # a real (--no-validate) report, with the outcome changed to what a live check writes
    item["finding"]["validation"] = {"outcome": "active", "status": "Active Credential"}
    (raw,) = parse_report(report, batch, validated=True)
    assert raw.verified is Verified.TRUE
    item["finding"]["validation"]["outcome"] = "inactive"
    assert next(parse_report(report, batch, validated=True)).verified is Verified.FALSE
    assert next(parse_report(report, batch, validated=False)).verified is Verified.UNKNOWN


def test_rule_cache_is_private(tmp_path: Path) -> None:
    scanner = KingfisherScanner(
        KingfisherScanner.Settings(rule_cache_dir=str(tmp_path / "cache"))
    )
    path = scanner.cache_dir(tmp_path)
    assert path == tmp_path / "cache"
    assert path.stat().st_mode & 0o777 == 0o700


def test_a_missing_binary_names_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ScannerError) as err:
        _scan(tmp_path, "x\n", binary=str(tmp_path / "no-kingfisher"))
    assert "kingfisher" in str(err.value) and "kingfisher-bin" in str(err.value)


def test_every_rule_id_seen_on_the_dev_corpus_maps_explicitly(
    tmp_path: Path, shared_dir: Path
) -> None:
    out = tmp_path / "dev.json"
    subprocess.run(
        [bundled_binary(), "scan", str(shared_dir / "bench" / "dev" / "docs"), "--no-validate",
         "--no-update-check", "-f", "json", "-o", str(out), "-q", "--no-dedup"],
        check=False, capture_output=True,
        env={"KF_RULE_CACHE_DIR": str(KingfisherScanner().cache_dir(tmp_path)), "PATH": ""},
    )
    seen = {f["rule"]["id"] for f in json.loads(out.read_text())["findings"]}
    assert len(seen) > 10
    rules = KingfisherRules()
    unmapped = sorted(r for r in seen if rules.explicit(r) is None)
    assert not unmapped, f"Kingfisher rule ids without an explicit canonical type: {unmapped}"


def test_every_builtin_rule_resolves_to_a_canonical_type() -> None:
    listing = subprocess.run([bundled_binary(), "rules", "list"], capture_output=True,
                             text=True, check=True).stdout
    ids = set(re.findall(r"│ ((?:betterleaks|veles|kingfisher)\.[\w./-]+) +│", listing))
    assert len(ids) > 400
    rules = KingfisherRules()
    for rule in ids:
        assert rules[rule] in CANONICAL_TYPES, rule
