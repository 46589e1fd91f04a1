"""The trufflehog output parser, against real trufflehog v3 output samples (read in place)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from ticketscan.errors import ScannerError
from ticketscan.taxonomy import TRUFFLEHOG_DETECTORS
from ticketscan_trufflehog.scanner import parse_line, parse_output


def test_every_sample_line_parses(trufflehog_samples: list[Path]) -> None:
    count = 0
    for sample in trufflehog_samples:
        for line in sample.read_text().splitlines():
            if line.strip():
                record = parse_line(line)
                assert record is not None, f"{sample.name}: a result line did not parse"
                count += 1
    assert count == 10


def test_every_sample_detector_has_an_explicit_canonical_type(
    trufflehog_samples: list[Path],
) -> None:
    names = {
        json.loads(line)["DetectorName"]
        for sample in trufflehog_samples
        for line in sample.read_text().splitlines()
        if line.strip()
    }
    assert names == {"AWS", "URI", "PrivateKey", "CustomRegex"}
    assert not names - set(TRUFFLEHOG_DETECTORS)


def test_old_format_base64_raw_is_decoded(trufflehog_samples: list[Path]) -> None:
    sample = next(s for s in trufflehog_samples if s.name == "defectdojo_v3_git.jsonl")
    records = [parse_line(line) for line in sample.read_text().splitlines() if line.strip()]
    uri = next(r for r in records if r and r.detector == "URI")
    assert uri.raw_decoded == "https://admin:admin@the-internet.herokuapp.com/basic_auth"
    assert uri.verified is True
    assert uri.file == "keys" and uri.line == 3


def test_current_format_raw_is_plain_and_filesystem_metadata_is_read(
    trufflehog_samples: list[Path],
) -> None:
    sample = next(s for s in trufflehog_samples if s.name.startswith("issue3448"))
    record = parse_line(sample.read_text().splitlines()[0])
    assert record is not None
    assert (record.file, record.line, record.detector) == ("secret.py", 5, "CustomRegex")
    assert record.verified is False and record.raw_decoded is None
    assert record.decoder == "PLAIN"


def test_readme_example_keeps_go_escaping(trufflehog_samples: list[Path]) -> None:
    sample = next(s for s in trufflehog_samples if s.name.startswith("readme"))
    record = parse_line(sample.read_text().splitlines()[0])
    assert record is not None and record.candidates[0] == "AKIAIOSFODNN7EXAMPLE"


def test_non_json_output_is_a_scanner_error_without_the_line() -> None:
    with pytest.raises(ScannerError) as err:
        list(parse_output(b'{"DetectorName": "AWS"}\nAKIA2OGYBAH6STMJ4HJQ oops\n'))
    assert "AKIA2OGYBAH6STMJ4HJQ" not in str(err.value)
    assert "line 2" in str(err.value)


def test_lines_that_are_not_results_are_skipped() -> None:
    assert parse_line("") is None
    assert parse_line('{"level": "info", "msg": "finished scanning"}') is None
    assert parse_line('{"DetectorName": "AWS", "Raw": ""}') is None


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(
    st.sampled_from(["DetectorName", "Raw", "RawV2", "Verified", "SourceMetadata",
                     "DecoderName", "x"]),
    _json_values, max_size=6,
))
def test_parser_never_crashes_on_any_json_object(obj: dict[str, object]) -> None:
    record = parse_line(json.dumps(obj))
    assert record is None or (record.candidates and record.detector)


@given(st.binary(max_size=200))
def test_parser_on_arbitrary_bytes_either_parses_or_raises_scanner_error(data: bytes) -> None:
    with contextlib.suppress(ScannerError):
        list(parse_output(data))
