"""Merging detections into findings: one finding per secret per place, every engine listed.

The merge works on the multiset of :class:`Detection` records, not on findings: merging a
merged result again re-explodes it into the same detections, so the merge is idempotent and
independent of input order (a hypothesis test proves both).

Two detections in the same document belong together when their spans overlap and they are
the same secret (same ``secret_sha256``) or the overlap covers at least half of the shorter
span. Clusters grow around the shortest spans first, so a line-wide generic match cannot chain
two distinct secrets on that line into one finding.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

from .models import (
    Detection,
    Document,
    Finding,
    Location,
    Part,
    TicketRef,
    Verified,
    fingerprint_for,
)
from .taxonomy import is_generic, severity_of

__all__ = ["build_findings", "consensus_confidence", "merge_findings"]

#: Identity of a document across steps: everything a finding needs to say where it is.
DocKey = tuple[str, str, str, str, str | None]  # (ticket json, doc id, path, part, part_id)


def _span_key(d: Detection) -> tuple[int, int, int, int]:
    return (d.line, d.column, d.end_line, d.end_column)


def _detection_key(d: Detection) -> tuple[object, ...]:
    return (*_span_key(d), d.secret_sha256, d.scanner, d.rule_id, d.type)


def _length(d: Detection) -> int:
    if d.end_line == d.line:
        return max(1, d.end_column - d.column)
    return 10_000 * (d.end_line - d.line) + d.end_column


def _overlap(a: Detection, b: Detection) -> int:
    """Characters shared by the spans of a and b (lines weigh 10,000 characters)."""
    start = max((a.line, a.column), (b.line, b.column))
    end = min((a.end_line, a.end_column), (b.end_line, b.end_column))
    if start >= end:
        return 0
    if start[0] == end[0]:
        return end[1] - start[1]
    return 10_000 * (end[0] - start[0]) + end[1] - start[1]


def _belongs(a: Detection, b: Detection) -> bool:
    if a.secret_sha256 == b.secret_sha256 and abs(a.line - b.line) <= 1:
        return True
    shared = _overlap(a, b)
    return shared > 0 and 2 * shared >= min(_length(a), _length(b))


def _cluster(detections: list[Detection]) -> list[list[Detection]]:
    ordered = sorted(set_of(detections), key=lambda d: (_length(d), _detection_key(d)))
    clusters: list[list[Detection]] = []
    # a detection can only join a cluster whose seed shares a line with it (or is within
    # one line of it): index clusters by those lines instead of trying every cluster
    by_line: dict[int, list[int]] = defaultdict(list)
    for det in ordered:
        candidates = sorted(
            {i for line in range(det.line, det.end_line + 1) for i in by_line.get(line, ())}
        )
        for i in candidates:
            if _belongs(clusters[i][0], det):
                clusters[i].append(det)
                break
        else:
            clusters.append([det])
            for line in range(det.line - 1, det.end_line + 2):
                by_line[line].append(len(clusters) - 1)
    return clusters


def set_of(detections: Iterable[Detection]) -> list[Detection]:
    seen: dict[tuple[object, ...], Detection] = {}
    for det in detections:
        key = _detection_key(det)
        current = seen.get(key)
        if current is None or (det.confidence, det.verified.value) > (
            current.confidence,
            current.verified.value,
        ):
            seen[key] = det
    return list(seen.values())


def consensus_confidence(detections: Iterable[Detection]) -> float:
    """Independent engines agreeing raise confidence: 1 - prod(1 - c) over engines."""
    best: dict[str, float] = {}
    for det in detections:
        best[det.scanner] = max(best.get(det.scanner, 0.0), det.confidence)
    remaining = 1.0
    for value in best.values():
        remaining *= 1.0 - value
    return round(1.0 - remaining, 4)


def _verified(detections: list[Detection]) -> Verified:
    states = {d.verified for d in detections}
    if Verified.TRUE in states:
        return Verified.TRUE
    if Verified.FALSE in states:
        return Verified.FALSE
    return Verified.UNKNOWN


def _finding(
    ticket: TicketRef,
    doc_id: str,
    path: str,
    part: str,
    part_id: str | None,
    cluster: list[Detection],
) -> Finding:
    # the secret and place the finding shows: the value the most engines agree on, then the
    # most specific and confident detection (a decoded form several engines saw beats a
    # still-escaped form fewer saw)
    if len(cluster) == 1:  # most findings: one engine, one detection
        seed = cluster[0]
        kind = seed.type
    else:
        agree: dict[str, set[str]] = defaultdict(set)
        for det in cluster:
            agree[det.secret_sha256].add(det.scanner)
        seed = min(
            cluster,
            key=lambda d: (
                -len(agree[d.secret_sha256]),
                is_generic(d.type),
                -d.confidence,
                _length(d),
                _detection_key(d),
            ),
        )
        kind = min(
            cluster,
            key=lambda d: (is_generic(d.type), -d.confidence, _length(d), _detection_key(d)),
        ).type
    # inputs are validated detections: build without validating again (hot on big merges)
    loc = Location.model_construct(
        document=doc_id,
        path=path,
        part=Part(part),
        part_id=part_id,
        line=seed.line,
        column=seed.column,
        end_line=seed.end_line,
        end_column=seed.end_column,
    )
    fingerprint = fingerprint_for(ticket, loc.part, part_id, path, seed.secret_sha256)
    ident = hashlib.sha256(f"{fingerprint}:{seed.line}:{seed.column}".encode()).hexdigest()[:32]
    detections = sorted(cluster, key=_detection_key) if len(cluster) > 1 else cluster
    return Finding.model_construct(
        id=ident,
        fingerprint=fingerprint,
        type=kind,
        severity=severity_of(kind),
        confidence=consensus_confidence(cluster),
        verified=_verified(cluster),
        secret_sha256=seed.secret_sha256,
        redacted=seed.redacted,
        ticket=ticket,
        location=loc,
        scanners=sorted({d.scanner for d in cluster}),
        detections=detections,
    )


def build_findings(pairs: Iterable[tuple[Document, Detection]]) -> list[Finding]:
    """Findings from (document, detection) pairs, as produced by a scan."""
    grouped: dict[DocKey, list[Detection]] = defaultdict(list)
    tickets: dict[str, TicketRef] = {}
    keys: dict[int, DocKey] = {}  # one ticket dump per document, not per detection
    for doc, det in pairs:
        key = keys.get(id(doc))
        if key is None:
            tjson = doc.ticket.model_dump_json()
            tickets[tjson] = doc.ticket
            key = keys[id(doc)] = (tjson, doc.id, doc.path, doc.part.value, doc.part_id)
        grouped[key].append(det)
    return _emit(grouped, tickets)


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Merge findings from any number of scans: order-independent and idempotent."""
    grouped: dict[DocKey, list[Detection]] = defaultdict(list)
    tickets: dict[str, TicketRef] = {}
    dumps: dict[int, str] = {}
    for finding in findings:
        tjson = dumps.get(id(finding.ticket))
        if tjson is None:
            tjson = dumps[id(finding.ticket)] = finding.ticket.model_dump_json()
        tickets[tjson] = finding.ticket
        loc = finding.location
        grouped[(tjson, loc.document, loc.path, loc.part.value, loc.part_id)].extend(
            finding.detections
        )
    return _emit(grouped, tickets)


def _emit(grouped: dict[DocKey, list[Detection]], tickets: dict[str, TicketRef]) -> list[Finding]:
    out: list[Finding] = []
    for (tjson, doc_id, path, part, part_id), dets in grouped.items():
        for cluster in _cluster(dets):
            out.append(_finding(tickets[tjson], doc_id, path, part, part_id, cluster))
    out.sort(
        key=lambda f: (
            f.ticket.system,
            f.ticket.key,
            f.location.path,
            f.location.line,
            f.location.column,
            f.id,
        )
    )
    return out
