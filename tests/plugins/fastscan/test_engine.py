"""The engine's streaming, its pure-Python fallback and what it never prints."""

from __future__ import annotations

import json
import logging
import random
import string

import pytest
from fastscan_fakes import fake_secrets, github_token
from hypothesis import HealthCheck, given, settings, strategies as st
from ticketscan.testing import assert_no_secrets
from ticketscan_fastscan.engine import Engine
from ticketscan_fastscan.rules import default_rules

RULES = default_rules()
HS = Engine(RULES, use_hyperscan=True)
PY = Engine(RULES, use_hyperscan=False)
FILLER = string.ascii_letters + string.digits + "     \n.,:="


def _keys(findings: list) -> list[tuple[str, str, int, int, int, int]]:
    return sorted((f.rule.id, f.secret, f.line, f.column, f.end_line, f.end_column)
                  for f in findings)


@pytest.mark.parametrize("shift", range(-6, 7))
def test_secret_straddling_a_chunk_boundary_is_found_once(shift: int) -> None:
    chunk, overlap = 4096, 512
    engine = Engine(RULES, chunk_size=chunk, overlap=overlap)
    token = github_token(random.Random(shift + 100))
    rng = random.Random(shift)
    head = "".join(rng.choice(string.ascii_lowercase + " ") for _ in range(chunk - 20 + shift))
    lines = "\n".join(["x" * 50] * 3)
    text = f"{lines}\n{head} {token} tail\n" + "more text\n" * 2000 + f"again {token}\n"
    found = [f for f in engine.scan_bytes(text.encode()) if f.rule.id == "github-token"]
    assert [f.line for f in found] == [4, 2005]
    assert found[0].column == len(head) + 2
    assert found[0].end_column == found[0].column + len(token)


def test_multi_line_key_across_a_chunk_boundary() -> None:
    body = "\n".join(["MIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt"] * 10)
    key = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    for pad in (3900, 4000, 4090, 4200):
        text = "a" * pad + "\n" + key + "\n" + "b" * 5000
        engine = Engine(RULES, chunk_size=4096, overlap=2048)
        found = [f for f in engine.scan_bytes(text.encode()) if f.rule.id == "private-key"]
        assert len(found) == 1 and found[0].secret == key and found[0].line == 2


def test_memory_stays_flat_on_a_large_stream() -> None:
    """A 40 MB stream is read chunk by chunk: the engine never holds it whole."""
    token = fake_secrets()["stripe-secret-key"]

    class Counting:
        def __init__(self) -> None:
            self.sent = 0
            self.biggest = 0
            self.line = (b"lorem ipsum dolor sit amet " * 3 + b"\n") * 1000

        def read(self, n: int = -1) -> bytes:
            self.biggest = max(self.biggest, n)
            if self.sent >= 40_000_000:
                return b""
            self.sent += len(self.line)
            extra = f"key {token}\n".encode() if self.sent % 5_000_000 < len(self.line) else b""
            return self.line + extra

    stream = Counting()
    engine = Engine(RULES, chunk_size=1 << 20, overlap=1 << 14)
    found = list(engine.scan_stream(stream))  # type: ignore[arg-type]
    assert found and all(f.secret == token for f in found)
    assert stream.biggest <= (1 << 20) + (1 << 14)


_ENGINES: dict[int, tuple[Engine, Engine]] = {}


def _engines(chunk: int) -> tuple[Engine, Engine]:
    if chunk not in _ENGINES:
        _ENGINES[chunk] = (Engine(RULES, use_hyperscan=True, chunk_size=chunk, overlap=512),
                           Engine(RULES, use_hyperscan=False, chunk_size=chunk, overlap=512))
    return _ENGINES[chunk]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    picks=st.lists(st.sampled_from(sorted(fake_secrets())), min_size=1, max_size=5),
    chunk=st.sampled_from([1024, 4096, 1 << 20]),
)
def test_pure_python_path_finds_the_same(seed: int, picks: list[str], chunk: int) -> None:
    rng = random.Random(seed)
    secrets = fake_secrets(seed)
    contexts = ["token: {}", "export KEY={}", "my password is {}", "curl -H 'Authorization: "
                "Bearer {}'", "\"api_key\": \"{}\",", "> > {}", "{}"]
    parts = []
    for name in picks:
        parts.append("".join(rng.choice(FILLER) for _ in range(rng.randint(0, 300))))
        parts.append(rng.choice(contexts).format(secrets[name]))
    text = "\n".join(parts).encode()
    hs, py = _engines(chunk)
    assert _keys(hs.scan_bytes(text)) == _keys(py.scan_bytes(text))
    found = {f.secret for f in hs.scan_bytes(text)}
    for name in picks:
        assert secrets[name] in found, name


def test_fallback_says_so(caplog: pytest.LogCaptureFixture) -> None:
    from ticketscan_fastscan.scanner import FastScanner

    scanner = FastScanner(FastScanner.Settings(engine="python"))
    with caplog.at_level(logging.WARNING, logger="ticketscan.fastscan"):
        scanner.check()
    assert scanner.engine().mode == "python"
    assert "pure-Python path" in caplog.text


def test_findings_never_show_the_secret(secrets: dict[str, str]) -> None:
    text = "\n".join(f"{k} = {v}" for k, v in secrets.items()).encode()
    found = HS.scan_bytes(text)
    assert {f.secret for f in found} >= set(secrets.values())
    assert_no_secrets([repr(found), str(found)], secrets.values())


def test_cli_scan_of_a_plain_folder(tmp_path, secrets: dict[str, str]) -> None:
    import subprocess
    import sys

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ticket.txt").write_text(
        "Hi,\n" + "\n".join(f"{k}: {v}" for k, v in secrets.items()) + "\n"
    )
    (docs / "page.html").write_text(
        f"<p>token=&quot;{secrets['github-token']}&quot;</p>\n"
    )
    out = tmp_path / "findings.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "ticketscan", "scan", str(docs), "--scanner", "fastscan",
         "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len({r["secret_sha256"] for r in records}) >= len(secrets)
    assert_no_secrets([out.read_text(), proc.stdout, proc.stderr], secrets.values())
