"""SARIF 2.1.0 output, importable by GitHub code scanning and DefectDojo.

One run per file, tool ``ticketscan``; one rule per canonical type (with
``security-severity`` for GitHub); one result per finding with its redacted form only,
``partialFingerprints`` for deduplication across runs, and the engines in ``properties``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .models import Finding, Severity
from .taxonomy import CANONICAL_TYPES

__all__ = ["to_sarif", "write_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
}
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
}


def _rule(type_name: str, severity: Severity) -> dict[str, Any]:
    info = CANONICAL_TYPES.get(type_name)
    title = info.title if info else type_name
    return {
        "id": type_name,
        "name": "".join(part.capitalize() for part in type_name.split("-")),
        "shortDescription": {"text": f"{title} exposed in a ticket"},
        "fullDescription": {
            "text": f"A {title.lower()} was pasted into a support ticket. Anyone with access to "
            "the ticket can use it: revoke and rotate it, then redact it from the ticket."
        },
        "defaultConfiguration": {"level": _LEVEL[severity]},
        "help": {
            "text": "Rotate the credential at its provider, then remove it from the ticket "
            "(ticketscan's remediation actions can redact it).",
        },
        "properties": {
            "tags": ["security", "secret"],
            "security-severity": _SECURITY_SEVERITY[severity],
        },
    }


def _title(type_name: str) -> str:
    info = CANONICAL_TYPES.get(type_name)
    return info.title if info else type_name


def to_sarif(findings: Sequence[Finding]) -> dict[str, Any]:
    types = sorted({f.type for f in findings})
    severity_of_type = {f.type: f.severity for f in findings}
    rules = [_rule(t, severity_of_type[t]) for t in types]
    index = {t: i for i, t in enumerate(types)}
    results = []
    for f in findings:
        region: dict[str, Any] = {"startLine": f.location.line, "startColumn": f.location.column}
        if f.location.end_line:
            region["endLine"] = f.location.end_line
        if f.location.end_column:
            region["endColumn"] = f.location.end_column
        results.append(
            {
                "ruleId": f.type,
                "ruleIndex": index[f.type],
                "level": _LEVEL[f.severity],
                "message": {
                    "text": f"{_title(f.type)} {f.redacted} in {f.ticket.system} ticket "
                    f"{f.ticket.key}"
                    f" ({f.location.part.value}), found by {', '.join(f.scanners)}"
                },
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": f.location.path},
                            "region": region,
                        },
                        "logicalLocations": [
                            {
                                "name": f.ticket.key,
                                "fullyQualifiedName": f"{f.ticket.system}:{f.ticket.key}",
                                "kind": "ticket",
                            }
                        ],
                    }
                ],
                "partialFingerprints": {"ticketscan/v1": f.fingerprint},
                "properties": {
                    "id": f.id,
                    "severity": f.severity.value,
                    "confidence": f.confidence,
                    "verified": f.verified.value,
                    "secret_sha256": f.secret_sha256,
                    "redacted": f.redacted,
                    "scanners": f.scanners,
                    "rules": sorted({f"{d.scanner}:{d.rule_id}" for d in f.detections}),
                    "ticket_url": f.ticket.url,
                },
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ticketscan",
                        "informationUri": "https://pypi.org/project/ticketscan/",
                        "semanticVersion": __version__,
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def write_sarif(path: Path, findings: Sequence[Finding]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_sarif(findings), indent=2), encoding="utf-8")
    tmp.replace(path)
