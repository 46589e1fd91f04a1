"""``jira-remediate``: redact a found secret where it was pasted in Jira, safely.

A sink-kind component. For every finding in a Jira ticket it can:

* ``mask`` — overwrite the secret's characters with ``*`` in the comment, description,
  summary, environment or custom field, editing the ADF tree (Cloud) or the wiki string
  (Data Center) in place so every mark, node and line survives;
* ``restrict`` — restrict the comment's visibility to a role or group;
* ``delete-attachment`` — delete the attachment holding the secret (off unless listed);
* ``note`` — add one internal comment per ticket saying what was redacted and why (Jira
  Service Management: ``public: false``; plain Jira: a comment restricted like ``restrict``).

Safety: no secret travels through the pipeline, so every action re-fetches the current text,
re-locates the finding's range (line/column in the text ticketscan derived from the same
source) and acts only when ``sha256(text[range]) == finding.secret_sha256``. If the text
changed meanwhile, nothing is done and the reason is recorded. A range that is already all
``*`` is reported as done (idempotent: a second run changes nothing). Attachments are deleted
only when the downloaded bytes still hash to the fetched document's ``sha256`` (needs the
fetch step's manifest, ``--documents``).

Dry run by default: actions are planned and recorded (what would change, where, how many
characters) but nothing is sent unless the action is listed in ``apply`` and the run is not
``--dry-run``. Every planned or taken action is in the publish report.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from ticketscan.components import PublishContext, Sink
from ticketscan.errors import SourceError
from ticketscan.models import Finding, Part, SinkReport, sha256_text

from .client import JiraClient, NotFound, TooLarge, flavor_of
from .source import BASE_FIELDS, JiraConnection
from .text import MappedText, adf_to_text, replace_in_adf, replace_in_wiki, wiki_to_text

__all__ = ["JiraRemediate", "RemediateSettings"]

log = logging.getLogger("ticketscan.jira")
Action = Literal["mask", "restrict", "delete-attachment", "note"]
MASK = "*"


class Visibility(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["role", "group"] = "role"
    value: str = "Administrators"


class Policy(BaseModel):
    """Which actions apply to which findings; the first matching policy wins."""

    model_config = ConfigDict(extra="forbid")
    projects: list[str] = Field(default_factory=list, description="Project keys; [] = any.")
    types: list[str] = Field(default_factory=list, description="Finding types; [] = any.")
    actions: list[Action] = Field(default_factory=list)


class RemediateSettings(JiraConnection):
    """``[sinks.jira-remediate]``: connection keys as ``[sources.jira]``, plus the actions."""

    actions: list[Action] = Field(
        default_factory=lambda: list[Action](["mask"]),
        description="Actions for findings no policy matches.",
    )
    policies: list[Policy] = Field(default_factory=list)
    apply: list[Action] = Field(
        default_factory=list,
        description="Actions allowed to really change Jira; every other one is a dry run.",
    )
    visibility: Visibility = Field(default_factory=Visibility)
    note_style: Literal["jsm", "comment"] = Field(
        default="comment",
        description="jsm: a Service Management internal comment; comment: a comment "
        "restricted to `visibility`.",
    )
    note_text: str = Field(
        default="ticketscan removed a credential from this ticket ({what}). "
        "Whoever owns it must rotate it now: masking does not make a leaked secret safe.",
    )


@dataclass
class _Target:
    """One editable text in Jira and the findings located in it."""

    part: Part
    key: str
    part_id: str
    findings: list[Finding] = field(default_factory=list)


class JiraRemediate(Sink):
    """Masks secrets in Jira comments and fields, restricts comments, notes, deletes files."""

    name = "jira-remediate"
    description = "Jira: mask secrets in place, restrict comments, delete attachments, notes"
    Settings = RemediateSettings

    def _publish(self, findings: Sequence[Finding], context: PublishContext,
                 report: SinkReport) -> None:
        settings = self.settings
        assert isinstance(settings, RemediateSettings)
        client = JiraClient(settings)
        adf = flavor_of(settings) == "cloud"
        try:
            targets: dict[tuple[str, str, str], _Target] = {}
            notes: dict[str, list[str]] = {}
            for finding in findings:
                if finding.ticket.system != "jira":
                    report.suppressed.append(finding.id)
                    continue
                loc = finding.location
                target_id = _target_id(loc.part, loc.part_id)
                if target_id is None:
                    report.suppressed.append(finding.id)
                    continue
                key = finding.ticket.key
                entry = targets.setdefault(
                    (key, loc.part.value, target_id), _Target(loc.part, key, target_id))
                entry.findings.append(finding)
            for target in targets.values():
                _Run(settings, client, adf, context, report, notes).target(target)
            for key, whats in notes.items():
                _Run(settings, client, adf, context, report, notes).note(key, whats)
        finally:
            client.close()


def _target_id(part: Part, part_id: str | None) -> str | None:
    if part is Part.COMMENT and part_id:
        return part_id
    if part in (Part.SUMMARY, Part.DESCRIPTION) or (part is Part.FIELD and part_id):
        return part_id or part.value
    if part in (Part.ATTACHMENT, Part.ARCHIVE_MEMBER) and part_id:
        return part_id
    return None  # history and others: nothing to edit in place


class _Run:
    def __init__(self, settings: RemediateSettings, client: JiraClient, adf: bool,
                 context: PublishContext, report: SinkReport,
                 notes: dict[str, list[str]]) -> None:
        self.settings = settings
        self.client = client
        self.adf = adf
        self.context = context
        self.report = report
        self.notes = notes

    # ------------------------------------------------------------------------ policy

    def actions_for(self, finding: Finding) -> list[Action]:
        project = finding.ticket.project or finding.ticket.key.rsplit("-", 1)[0]
        for policy in self.settings.policies:
            if (not policy.projects or project in policy.projects) and (
                not policy.types or finding.type in policy.types
            ):
                return list(policy.actions)
        return list(self.settings.actions)

    def live(self, action: Action) -> bool:
        return action in self.settings.apply and not self.context.dry_run

    def record(self, action: Action, target: str, outcome: str, finding_ids: list[str],
               **extra: Any) -> None:
        entry = {"system": "jira", "action": action, "target": target, "outcome": outcome,
                 "dry_run": not self.live(action), "findings": sorted(finding_ids), **extra}
        self.report.actions.append(entry)
        log.info("jira-remediate %s %s: %s", action, target, outcome)

    # ------------------------------------------------------------------------ targets

    def target(self, target: _Target) -> None:
        try:
            if target.part in (Part.ATTACHMENT, Part.ARCHIVE_MEMBER):
                self.attachment(target)
            else:
                self.text(target)
        except SourceError as exc:
            for finding in target.findings:
                self.report.failed[finding.id] = str(exc)

    def text(self, target: _Target) -> None:
        where = _where(target)
        wanted = {a for f in target.findings for a in self.actions_for(f)}
        if not wanted & {"mask", "restrict", "note"}:
            self.report.suppressed.extend(f.id for f in target.findings)
            return
        try:
            value, comment = self.fetch(target)
        except NotFound:
            self.record("mask", where, "skipped: no longer exists (HTTP 404)",
                        [f.id for f in target.findings])
            return
        mapped = _mapped(value, self.adf)
        edited = copy.deepcopy(value)
        masked: list[Finding] = []
        for finding in target.findings:
            loc = finding.location
            ids = [finding.id]
            try:
                start, end = mapped.slice(loc.line, loc.column, loc.end_line or loc.line,
                                          loc.end_column or loc.column)
            except ValueError:
                self.record("mask", where, "skipped: the text changed meanwhile "
                            "(the finding's range is outside it)", ids)
                continue
            current = mapped.text[start:end]
            if current and set(current) == {MASK}:
                self.record("mask", where, "already masked", ids, line=loc.line)
                continue
            if sha256_text(current) != finding.secret_sha256:
                self.record("mask", where, "skipped: the text changed meanwhile "
                            "(it no longer holds the secret at the finding's location)", ids,
                            line=loc.line)
                continue
            if "mask" in self.actions_for(finding):
                edited = _mask(edited, value, mapped, start, end)
                masked.append(finding)
                self.record("mask", where, "masked" if self.live("mask") else "would mask",
                            ids, line=loc.line, column=loc.column, chars=end - start,
                            redacted=finding.redacted)
            if "note" in self.actions_for(finding):
                self.notes.setdefault(target.key, []).append(
                    f"{finding.type} {finding.redacted} in {where}")
        restrict = (target.part is Part.COMMENT and comment is not None
                    and any("restrict" in self.actions_for(f) for f in target.findings))
        if masked and self.live("mask"):
            self.write(target, edited, comment if restrict and self.live("restrict") else None)
        if restrict:
            assert comment is not None
            visibility_now = comment.get("visibility")
            wanted_vis = self.settings.visibility.model_dump()
            all_ids = [f.id for f in target.findings]
            if isinstance(visibility_now, dict) and {
                k: visibility_now.get(k) for k in wanted_vis
            } == wanted_vis:
                self.record("restrict", where, "already restricted", all_ids)
            elif self.live("restrict"):
                if not (masked and self.live("mask")):
                    self.write(target, value, comment)
                self.record("restrict", where, "restricted", all_ids, visibility=wanted_vis)
            else:
                self.record("restrict", where, "would restrict", all_ids, visibility=wanted_vis)

    def fetch(self, target: _Target) -> tuple[Any, dict[str, Any] | None]:
        if target.part is Part.COMMENT:
            comment = self.client.comment(target.key, target.part_id)
            return comment.get("body"), comment
        issue = self.client.issue(target.key, [target.part_id])
        fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
        assert isinstance(fields, dict)
        return fields.get(target.part_id), None

    def write(self, target: _Target, body: Any, comment: dict[str, Any] | None) -> None:
        base = self.client.jira.resource_url("issue")
        if target.part is Part.COMMENT:
            data: dict[str, Any] = {"body": body}
            if comment is not None:
                data["visibility"] = self.settings.visibility.model_dump()
            self.client.put_json(f"PUT comment {target.part_id} of {target.key}",
                                 f"{base}/{target.key}/comment/{target.part_id}", data,
                                 params={"notifyUsers": "false"})
        else:
            self.client.put_json(f"PUT {target.part_id} of {target.key}",
                                 f"{base}/{target.key}", {"fields": {target.part_id: body}},
                                 params={"notifyUsers": "false"})

    def attachment(self, target: _Target) -> None:
        where = f"{target.key}/attachment/{target.part_id}"
        ids = [f.id for f in target.findings]
        if not any("delete-attachment" in self.actions_for(f) for f in target.findings):
            self.report.suppressed.extend(ids)
            return
        manifest = self.context.manifest
        expected: str | None = None
        if manifest is not None:
            expected = next((d.sha256 for d in manifest.documents
                             if d.part is Part.ATTACHMENT and d.part_id == target.part_id), None)
        if expected is None:
            self.record("delete-attachment", where, "skipped: cannot check the attachment is "
                        "unchanged (needs the fetch manifest, --documents, holding the file "
                        "itself; an archive's own bytes are not in it)", ids)
            return
        try:
            with tempfile.TemporaryDirectory(prefix="ticketscan-jira-") as tmp:
                dest = Path(tmp) / "attachment"
                self.client.download(target.part_id, dest, 1 << 40)
                digest = _file_sha256(dest)
        except (NotFound, TooLarge):
            self.record("delete-attachment", where, "already gone", ids)
            return
        if digest != expected:
            self.record("delete-attachment", where, "skipped: the attachment changed meanwhile",
                        ids)
            return
        for finding in target.findings:
            if "note" in self.actions_for(finding):
                self.notes.setdefault(target.key, []).append(
                    f"{finding.type} {finding.redacted} in {where}")
        if self.live("delete-attachment"):
            base = self.client.jira.resource_url("attachment")
            try:
                self.client.delete(f"DELETE attachment {target.part_id}",
                                   f"{base}/{target.part_id}")
            except NotFound:
                self.record("delete-attachment", where, "already gone", ids)
                return
            self.record("delete-attachment", where, "deleted", ids)
        else:
            self.record("delete-attachment", where, "would delete", ids)

    def note(self, key: str, whats: list[str]) -> None:
        text = self.settings.note_text.format(what="; ".join(sorted(set(whats))))
        target = f"{key}/comment/new"
        if not self.live("note"):
            self.record("note", target, "would add an internal note", [], text=text)
            return
        try:
            if self.settings.note_style == "jsm":
                self.client.post_json(f"POST internal comment on {key}",
                                      f"rest/servicedeskapi/request/{key}/comment",
                                      {"body": text, "public": False})
            else:
                body: Any = _plain_to_adf(text) if self.adf else text
                base = self.client.jira.resource_url("issue")
                self.client.post_json(f"POST comment on {key}", f"{base}/{key}/comment",
                                      {"body": body,
                                       "visibility": self.settings.visibility.model_dump()})
        except (SourceError, NotFound) as exc:
            self.record("note", target, f"failed: {exc}", [])
            self.report.error = f"internal note on {key} failed: {exc}"
            return
        self.record("note", target, "added an internal note", [], text=text)


def _where(target: _Target) -> str:
    if target.part is Part.COMMENT:
        return f"{target.key}/comment/{target.part_id}"
    if target.part_id in BASE_FIELDS:
        return f"{target.key}/{target.part_id}"
    return f"{target.key}/field/{target.part_id}"


def _mapped(value: Any, adf: bool) -> MappedText:
    """The same text the source produced for this value, with its source map."""
    if isinstance(value, dict) and value.get("type") == "doc":
        return adf_to_text(value)
    if isinstance(value, str):
        if adf:
            return MappedText(value, [None if c == "\n" else i for i, c in enumerate(value)])
        return wiki_to_text(value)
    return MappedText("", [])


def _mask(edited: Any, original: Any, mapped: MappedText, start: int, end: int) -> Any:
    if isinstance(edited, dict):
        replace_in_adf(edited, mapped, start, end, MASK)
        return edited
    assert isinstance(edited, str) and isinstance(original, str)
    return replace_in_wiki(edited, mapped, start, end, MASK)


def _plain_to_adf(text: str) -> dict[str, Any]:
    return {"type": "doc", "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
