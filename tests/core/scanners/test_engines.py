"""ticketscan.engines: redacted engine output, binary lookup, positions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from ticketscan.engines import LineIndex, find_binary, parse_version, redact_output, run_engine
from ticketscan.errors import ScannerError

SECRETS = [
    "AKIA2OGYBAH6STMJ4HJQ",
    "xoxb-284719305521-3948572019384-Qz8vLm2KpX4nRt7WcY1sBa9D",
    "sk_live_4qTb9ZxLk2VwR7nPc3JmYd8H",
    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
]


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("template", [
    "{s}", "error: {s}", "\x1b[31mERR\x1b[0m found secret={s} in file",
    '{{"Secret": "{s}", "Match": "key={s}"}}', "panic: bad token {s}\ngoroutine 1",
])
def test_redact_output_masks_token_like_strings(secret: str, template: str) -> None:
    out = redact_output(template.format(s=secret))
    assert secret not in out


def test_redact_output_keeps_ordinary_words_and_trims() -> None:
    text = "\n".join(f"line {i}: configuration failed" for i in range(20))
    out = redact_output(text)
    assert "configuration failed" in out and "line 19" in out and "line 5" not in out


@given(st.text(max_size=300), st.sampled_from(SECRETS))
def test_a_planted_secret_never_survives_redaction(noise: str, secret: str) -> None:
    assert secret not in redact_output(f"{noise} {secret} {noise}")


def test_parse_version() -> None:
    assert parse_version("v8.30.1") == (8, 30, 1)
    assert parse_version("kingfisher 2.14.0\n") == (2, 14, 0)
    assert parse_version("trufflehog 3.88") == (3, 88, 0)
    assert parse_version("dev build") is None


def test_find_binary_order_and_errors(tmp_path: Path) -> None:
    assert find_binary("x", sys.executable, names=["nope"], install_hint="h") == sys.executable
    with pytest.raises(ScannerError, match="configured binary"):
        find_binary("x", str(tmp_path / "missing"), names=["python3"], install_hint="h")
    assert find_binary("x", None, names=["no-such-binary-xyz"],
                       fallbacks=[lambda: sys.executable], install_hint="h") == sys.executable
    with pytest.raises(ScannerError, match="install me"):
        find_binary("x", None, names=["no-such-binary-xyz"], fallbacks=[lambda: None],
                    install_hint="install me")


def test_run_engine_reports_bad_exits_redacted(tmp_path: Path) -> None:
    code = "import sys; sys.stderr.write('token AKIA2OGYBAH6STMJ4HJQ bad'); sys.exit(7)"
    with pytest.raises(ScannerError) as err:
        run_engine("eng", [sys.executable, "-c", code], cwd=tmp_path)
    assert "exited with code 7" in str(err.value)
    assert "AKIA2OGYBAH6STMJ4HJQ" not in str(err.value)
    ok = run_engine("eng", [sys.executable, "-c", "print('hi'); raise SystemExit(200)"],
                    cwd=tmp_path, ok_codes=(0, 200))
    assert ok.stdout.strip() == b"hi"


def test_line_index_byte_columns_and_nearby_search() -> None:
    index = LineIndex("abc\néé x SECRET y\nSECRET\n")
    assert index.char_column(2, len("éé ".encode())) == 3
    offset = index.find_near("SECRET", 2, 5)
    assert index.span(offset, 6) == (2, 6, 2, 12)
    assert index.span(index.find_near("SECRET", 3, 0), 6) == (3, 1, 3, 7)


@given(st.text(max_size=80), st.integers(1, 6), st.integers(0, 40), st.text(min_size=1,
                                                                         max_size=6))
def test_line_index_never_crashes_and_finds_what_is_there(
    text: str, line: int, col: int, needle: str
) -> None:
    index = LineIndex(text)
    index.char_column(line, col)
    offset = index.find_near(needle, line, col)
    if offset is not None:
        assert text[offset : offset + len(needle)] == needle
