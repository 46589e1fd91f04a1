"""The data that flows between the steps: events, documents, findings, publish reports.

Every model is a pydantic v2 model and its JSON Schema is generated into ``docs/schema/``
(``ticketscan schema --out docs/schema``); a test fails when the committed schemas drift.

A secret never appears in any of these models: a :class:`Finding` carries only
``secret_sha256`` and a ``redacted`` form that shows at most four characters.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "SCHEMA_VERSION",
    "Detection",
    "Document",
    "Finding",
    "Location",
    "Manifest",
    "Part",
    "PublishReport",
    "RawFinding",
    "Severity",
    "SinkReport",
    "SkippedPart",
    "TicketEvent",
    "TicketRef",
    "Verified",
    "fingerprint_for",
    "redact",
    "sha256_text",
]

SCHEMA_VERSION: Final = "1"

#: Secrets shorter than this are redacted completely.
MIN_SHOWN_SECRET_LENGTH = 12
#: At most this many characters of a secret are ever shown.
MAX_SHOWN_CHARS = 4


def sha256_text(value: str) -> str:
    """Hex sha256 of ``value`` encoded as UTF-8 (how ``secret_sha256`` is computed)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def redact(secret: str) -> str:
    """A display form of ``secret`` showing at most 4 characters, none if it is short.

    >>> redact("AKIAIOSFODNN7EXAMPLE")
    'AKIA…[20 chars]'
    >>> redact("hunter2")
    '…[7 chars]'
    """
    if len(secret) < MIN_SHOWN_SECRET_LENGTH:
        return f"…[{len(secret)} chars]"
    return f"{secret[:MAX_SHOWN_CHARS]}…[{len(secret)} chars]"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class Part(StrEnum):
    """Which part of a ticket a document came from."""

    SUMMARY = "summary"
    DESCRIPTION = "description"
    COMMENT = "comment"
    ATTACHMENT = "attachment"
    ARCHIVE_MEMBER = "archive-member"
    FIELD = "field"
    HISTORY = "history"
    FILE = "file"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return ["low", "medium", "high", "critical"].index(self.value)


class Verified(StrEnum):
    """Whether the secret was checked live against its provider."""

    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"


class TicketRef(_Model):
    """Which ticket something belongs to."""

    system: str = Field(description="Source plugin name, e.g. 'jira', 'zendesk', 'files'.")
    key: str = Field(description="Ticket key or id, e.g. 'SEC-42' or '1234'.")
    url: str | None = Field(default=None, description="Browser URL of the ticket.")
    project: str | None = Field(default=None, description="Jira project key, Zendesk brand/group.")


class TicketEvent(_Model):
    """A webhook event, parsed by the source plugin of its system."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    system: str = Field(description="Source plugin name that parsed the event.")
    event_type: str = Field(description="The system's own event name, e.g. 'comment_created'.")
    ticket: TicketRef
    comment_ids: list[str] = Field(default_factory=list, description="Comments that changed.")
    attachment_ids: list[str] = Field(default_factory=list, description="Attachments added.")
    changed_fields: list[str] = Field(default_factory=list, description="Fields that changed.")
    delivery_id: str = Field(description="Idempotency key of this delivery.")
    received_at: datetime | None = Field(
        default=None, description="When the receiver accepted the webhook, if known."
    )
    skip_reason: str | None = Field(
        default=None, description="Set when there is nothing to scan (e.g. a delete event)."
    )
    payload: dict[str, Any] = Field(
        default_factory=dict, description="The raw webhook body, as received."
    )


class Document(_Model):
    """One scannable unit of text with where it came from.

    The text itself lives in a file next to the manifest (``text_path``, relative to the
    documents directory); scanners read it from there.
    """

    id: str = Field(description="Stable id within one fetch (safe as a file name).")
    ticket: TicketRef
    part: Part
    part_id: str | None = Field(default=None, description="Comment id, attachment id, field id.")
    path: str = Field(
        description="Where a person finds it, e.g. 'SEC-42/comment/10001' or "
        "'SEC-42/attachment/logs.zip!/conf/app.env'; the relative path for the files source."
    )
    filename: str | None = None
    media_type: str = "text/plain"
    size: int = Field(ge=0, description="Size of the original bytes.")
    sha256: str = Field(description="sha256 of the original bytes.")
    text_path: str = Field(description="Decoded text file, relative to the documents directory.")
    author: str | None = None
    created_at: datetime | None = None
    public: bool | None = Field(default=None, description="Visible to the customer (comments).")


class SkippedPart(_Model):
    """A part of the ticket that was not (fully) scanned, and why."""

    path: str
    reason: str
    truncated: bool = False


class Manifest(_Model):
    """``manifest.json`` of a documents directory, written by ``fetch``."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    event: TicketEvent
    documents: list[Document] = Field(default_factory=list)
    skipped: list[SkippedPart] = Field(default_factory=list)


class Location(_Model):
    """Where a finding is, in the original ticket part (1-based line and column)."""

    document: str = Field(description="Document id.")
    path: str = Field(description="Document path, see Document.path.")
    part: Part
    part_id: str | None = Field(default=None, description="Comment id, attachment id, ...")
    line: Annotated[int, Field(ge=1)]
    column: Annotated[int, Field(ge=1)] = 1
    end_line: Annotated[int, Field(ge=1)] | None = None
    end_column: Annotated[int, Field(ge=1)] | None = None


class Detection(_Model):
    """One scanner's report of a finding: who found it, with which native rule."""

    scanner: str
    rule_id: str
    type: str = Field(description="Canonical type this detection maps to.")
    confidence: Annotated[float, Field(ge=0, le=1)] = 0.5
    verified: Verified = Verified.UNKNOWN
    secret_sha256: str
    secret_length: int = Field(ge=0)
    redacted: str
    line: Annotated[int, Field(ge=1)]
    column: Annotated[int, Field(ge=1)] = 1
    end_line: Annotated[int, Field(ge=1)]
    end_column: Annotated[int, Field(ge=1)]


class Finding(_Model):
    """A secret found in a ticket: merged across scanners, never in clear."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    id: str = Field(description="Unique per occurrence: fingerprint + position.")
    fingerprint: str = Field(
        description="Stable across scanners, steps, retries and edits that move the text: "
        "system + ticket + part + secret_sha256."
    )
    type: str = Field(description="Canonical type, e.g. 'aws-access-key-id'.")
    severity: Severity
    confidence: Annotated[float, Field(ge=0, le=1)]
    verified: Verified = Verified.UNKNOWN
    secret_sha256: str
    redacted: str = Field(description="At most 4 characters of the secret; none if < 12 long.")
    ticket: TicketRef
    location: Location
    scanners: list[str] = Field(description="Scanners that found it, sorted.")
    detections: list[Detection]
    first_seen: datetime | None = None

    @field_validator("redacted")
    @classmethod
    def _short(cls, value: str) -> str:
        shown = value.split("…", 1)[0]
        if len(shown) > MAX_SHOWN_CHARS:
            raise ValueError("a redacted form may show at most 4 characters of the secret")
        return value


def fingerprint_for(ticket: TicketRef, part: Part, part_id: str | None, path: str, sha: str) -> str:
    """The stable fingerprint of a secret in one ticket part (does not depend on line)."""
    basis = "\x1f".join([ticket.system, ticket.key, part.value, part_id or path, sha])
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


class RawFinding:
    """What a scanner yields: the secret in clear, in memory only.

    Core turns it into a :class:`Detection` (hash + redacted form) before anything is written;
    a ``RawFinding`` is never serialised. Positions are 1-based; ``end_column`` is exclusive.
    """

    __slots__ = (
        "column",
        "confidence",
        "document",
        "end_column",
        "end_line",
        "line",
        "rule_id",
        "secret",
        "type",
        "verified",
    )

    def __init__(
        self,
        *,
        document: str,
        secret: str,
        rule_id: str,
        line: int,
        column: int = 1,
        end_line: int | None = None,
        end_column: int | None = None,
        type: str | None = None,
        confidence: float | None = None,
        verified: Verified = Verified.UNKNOWN,
    ) -> None:
        self.document = document
        self.secret = secret
        self.rule_id = rule_id
        self.line = line
        self.column = column
        self.end_line = end_line if end_line is not None else line
        self.end_column = end_column if end_column is not None else column + len(secret)
        self.type = type
        self.confidence = confidence
        self.verified = verified

    def __repr__(self) -> str:  # never show the secret
        return (
            f"RawFinding(document={self.document!r}, rule_id={self.rule_id!r}, "
            f"line={self.line}, column={self.column}, secret={redact(self.secret)!r})"
        )


class SinkReport(_Model):
    """What one sink did in one publish."""

    sink: str
    delivered: list[str] = Field(default_factory=list, description="Finding ids delivered.")
    suppressed: list[str] = Field(
        default_factory=list, description="Finding ids not sent: already alerted or not routed."
    )
    failed: dict[str, str] = Field(default_factory=dict, description="Finding id -> reason.")
    error: str | None = None
    actions: list[dict[str, Any]] = Field(
        default_factory=list, description="Remediation actions taken or planned (dry run)."
    )

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failed


class PublishReport(_Model):
    """``publish-report.json``: per sink, what was delivered and what failed."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    findings: int = 0
    sinks: dict[str, SinkReport] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(report.ok for report in self.sinks.values())
