"""Merge: one finding per secret per place, every engine listed; order-independent, idempotent."""

from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st
from ticketscan.merge import build_findings, consensus_confidence, merge_findings
from ticketscan.models import Detection, Document, Finding, Part, TicketRef, redact, sha256_text

TICKET = TicketRef(system="jira", key="SEC-1")
DOCS = [
    Document(
        id=f"d{i}",
        ticket=TICKET,
        part=Part.COMMENT,
        part_id=str(100 + i),
        path=f"SEC-1/comment/{100 + i}",
        size=10,
        sha256="0" * 64,
        text_path=f"text/d{i}.txt",
    )
    for i in range(2)
]
SECRETS = ["AKIA2OGYBAH6STMJ4HJQ", "sk_live_4qTb9ZxLk2VwR7nPc3JmYd8H", "hunter2hunter2", "ab"]


def det(
    scanner: str,
    secret: str,
    line: int,
    column: int,
    rule: str = "r",
    kind: str = "other",
    confidence: float = 0.5,
) -> Detection:
    return Detection(
        scanner=scanner,
        rule_id=rule,
        type=kind,
        confidence=confidence,
        secret_sha256=sha256_text(secret),
        secret_length=len(secret),
        redacted=redact(secret),
        line=line,
        column=column,
        end_line=line,
        end_column=column + len(secret),
    )


detections = st.builds(
    lambda doc, scanner, secret, line, column, kind, conf: (
        DOCS[doc],
        det(scanner, secret, line, column, rule=f"{scanner}-{kind}", kind=kind, confidence=conf),
    ),
    st.integers(0, 1),
    st.sampled_from(["gitleaks", "kingfisher", "detect-secrets"]),
    st.sampled_from(SECRETS),
    st.integers(1, 4),
    st.integers(1, 30),
    st.sampled_from(["aws-access-key-id", "generic-api-key", "stripe-secret-key"]),
    st.sampled_from([0.3, 0.6, 0.9]),
)


def _dump(findings: list[Finding]) -> list[str]:
    return [f.model_dump_json() for f in findings]


@settings(max_examples=200, deadline=None)
@given(st.lists(detections, max_size=25), st.randoms())
def test_merge_is_order_independent(pairs, rnd: random.Random) -> None:
    findings = build_findings(pairs)
    shuffled = list(findings)
    rnd.shuffle(shuffled)
    assert _dump(merge_findings(shuffled)) == _dump(merge_findings(findings))
    pairs2 = list(pairs)
    rnd.shuffle(pairs2)
    assert _dump(build_findings(pairs2)) == _dump(findings)


@settings(max_examples=200, deadline=None)
@given(st.lists(detections, max_size=25), st.lists(detections, max_size=25))
def test_merge_is_idempotent_and_associative(a, b) -> None:
    fa, fb = build_findings(a), build_findings(b)
    once = merge_findings(fa + fb)
    assert _dump(merge_findings(once)) == _dump(once)
    assert _dump(merge_findings(fa + merge_findings(fb))) == _dump(once)
    assert _dump(once) == _dump(build_findings(a + b))


def test_same_secret_from_three_engines_is_one_finding_listing_all() -> None:
    secret = SECRETS[0]
    pairs = [
        (DOCS[0], det(s, secret, 3, 10, rule=f"{s}-aws", kind="aws-access-key-id"))
        for s in ("gitleaks", "kingfisher", "detect-secrets")
    ]
    (finding,) = build_findings(pairs)
    assert finding.scanners == ["detect-secrets", "gitleaks", "kingfisher"]
    assert {d.rule_id for d in finding.detections} == {
        "gitleaks-aws",
        "kingfisher-aws",
        "detect-secrets-aws",
    }
    assert finding.confidence > 0.5  # consensus raises confidence


def test_a_wider_generic_match_does_not_chain_two_secrets() -> None:
    a, b = SECRETS[0], SECRETS[1]
    line = det("fastscan", a, 1, 5, kind="aws-access-key-id")
    other = det("fastscan", b, 1, 40, kind="stripe-secret-key")
    wide = Detection(
        **{**det("gitleaks", "x" * 60, 1, 1, kind="generic-api-key").model_dump(), "end_column": 70}
    )
    findings = build_findings([(DOCS[0], line), (DOCS[0], other), (DOCS[0], wide)])
    types = sorted(f.type for f in findings)
    assert "aws-access-key-id" in types and "stripe-secret-key" in types
    assert len([f for f in findings if f.type != "generic-api-key"]) == 2


def test_specific_type_wins_over_generic() -> None:
    secret = SECRETS[1]
    pairs = [
        (DOCS[0], det("gitleaks", secret, 2, 1, kind="generic-api-key", confidence=0.9)),
        (DOCS[0], det("fastscan", secret, 2, 1, kind="stripe-secret-key", confidence=0.6)),
    ]
    (finding,) = build_findings(pairs)
    assert finding.type == "stripe-secret-key"


def test_same_secret_in_two_parts_gives_two_fingerprints() -> None:
    secret = SECRETS[0]
    findings = build_findings(
        [(DOCS[0], det("g", secret, 1, 1)), (DOCS[1], det("g", secret, 1, 1))]
    )
    assert len({f.fingerprint for f in findings}) == 2


def test_fingerprint_survives_the_secret_moving_lines() -> None:
    secret = SECRETS[0]
    (before,) = build_findings([(DOCS[0], det("g", secret, 1, 1))])
    (after,) = build_findings([(DOCS[0], det("g", secret, 7, 3))])
    assert before.fingerprint == after.fingerprint
    assert before.id != after.id


def test_consensus_counts_each_engine_once() -> None:
    dets = [
        det("g", SECRETS[0], 1, 1, confidence=0.5),
        det("g", SECRETS[0], 1, 1, rule="x", confidence=0.5),
    ]
    assert consensus_confidence(dets) == 0.5
    dets.append(det("k", SECRETS[0], 1, 1, confidence=0.5))
    assert consensus_confidence(dets) == 0.75
