"""Built-in sources: ``files`` (local files as a ticket), ``payload`` (the webhook body)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from ticketscan.components import ComponentSettings, Source
from ticketscan.documents import DocumentWriter
from ticketscan.errors import EventError, InputError
from ticketscan.models import Part, TicketEvent, TicketRef

__all__ = ["FilesSource", "PayloadSource"]

EVENT_DIR_HEADER = "x-ticketscan-event-dir"


class FilesSource(Source):
    """Local files or folders scanned as one ticket. For local use, tests and benchmarks.

    Event: ``{"source": "files", "ticket": "LOCAL-1", "paths": ["folder", "file.txt"]}``;
    relative paths are resolved against the event file's folder.
    """

    name = "files"
    description = "local files and folders as a ticket (no API access)"
    priority: ClassVar[int] = 10

    class Settings(ComponentSettings):
        follow_symlinks: bool = Field(default=False, description="Follow symlinked files.")
        exclude: list[str] = Field(
            default_factory=lambda: [".git", "__pycache__", ".venv", "node_modules"],
            description="Folder or file names that are never read.",
        )

    @classmethod
    def event_for(cls, paths: Sequence[Path], *, ticket: str = "local") -> TicketEvent:
        payload = {"source": "files", "ticket": ticket, "paths": [str(p.resolve()) for p in paths]}
        return cls().parse_event(payload, {})

    @classmethod
    def claims(cls, payload: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
        return payload.get("source") == "files"

    def _parse_event(self, payload: Mapping[str, Any], headers: Mapping[str, str]) -> TicketEvent:
        paths = payload.get("paths")
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise EventError("must be a non-empty list of file or folder paths", field="paths")
        base = Path(headers.get(EVENT_DIR_HEADER, "."))
        resolved = [str(p if Path(p).is_absolute() else (base / p).resolve()) for p in paths]
        ticket = payload.get("ticket", "local")
        if not isinstance(ticket, str) or not ticket:
            raise EventError("must be a non-empty string", field="ticket")
        return TicketEvent(
            system="files",
            event_type="files",
            ticket=TicketRef(system="files", key=ticket, url=payload.get("url")),
            delivery_id=str(payload.get("delivery_id", "")),
            payload={**payload, "paths": resolved},
        )

    def _fetch(self, event: TicketEvent, writer: DocumentWriter) -> None:
        settings = self.settings
        assert isinstance(settings, FilesSource.Settings)
        roots = [Path(p) for p in event.payload["paths"]]
        for root in roots:
            if not root.exists():
                raise InputError(f"{root} does not exist")
        prefix = len(roots) > 1
        for root in roots:
            for file in self._walk(root, settings):
                rel = file.name if root.is_file() else file.relative_to(root).as_posix()
                path = f"{root.name}/{rel}" if prefix and root.is_dir() else rel
                if file.is_symlink() and not settings.follow_symlinks:
                    writer.skip(path, "symbolic link not followed")
                    continue
                writer.add_file(part=Part.FILE, path=path, file=file, filename=file.name)

    @staticmethod
    def _walk(root: Path, settings: FilesSource.Settings) -> Iterator[Path]:
        if root.is_file():
            yield root
            return
        excluded = set(settings.exclude)
        for path in sorted(root.rglob("*")):
            if excluded.intersection(path.relative_to(root).parts):
                continue
            if path.is_file() or path.is_symlink():
                yield path


_SKIP_KEYS = re.compile(
    r"(?i)(^self$|avatar|icon|^id$|accountid|^key$|timezone|locale|emailaddress)"
)
_MIN_LEN = 8


class PayloadSource(Source):
    """Scans the text fields carried inside a webhook payload itself; needs no API access.

    Used automatically when a webhook's own system is not configured (no Jira URL, say), so
    the one-machine mode works on embedded defaults.
    """

    name = "payload"
    description = "text fields inside the webhook payload (no API access)"
    priority: ClassVar[int] = 1000

    class Settings(ComponentSettings):
        min_length: int = Field(default=_MIN_LEN, ge=1, description="Shorter strings are skipped.")

    @classmethod
    def claims(cls, payload: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
        return True

    def _parse_event(self, payload: Mapping[str, Any], headers: Mapping[str, str]) -> TicketEvent:
        key, url, project = _ticket_of(payload)
        event_type = str(
            payload.get("webhookEvent") or payload.get("type") or payload.get("event") or "payload"
        )
        delivery = headers.get("x-atlassian-webhook-identifier") or headers.get(
            "x-zendesk-webhook-invocation-id", ""
        )
        return TicketEvent(
            system="payload",
            event_type=event_type if isinstance(event_type, str) else "payload",
            ticket=TicketRef(system="payload", key=key, url=url, project=project),
            delivery_id=delivery,
            payload=dict(payload),
        )

    def _fetch(self, event: TicketEvent, writer: DocumentWriter) -> None:
        settings = self.settings
        assert isinstance(settings, PayloadSource.Settings)
        for pointer, text in _strings(event.payload):
            if len(text) < settings.min_length:
                continue
            writer.add_text(
                part=Part.FIELD,
                part_id=pointer,
                path=f"{event.ticket.key}/payload{pointer}",
                text=text,
            )


def _ticket_of(payload: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    issue = payload.get("issue")
    if isinstance(issue, dict) and issue.get("key"):
        fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
        project = fields.get("project", {}).get("key") if isinstance(fields, dict) else None
        return str(issue["key"]), issue.get("self"), project
    ticket = payload.get("ticket")
    if isinstance(ticket, dict) and ticket.get("id") is not None:
        return str(ticket["id"]), ticket.get("url"), None
    detail = payload.get("detail")
    if isinstance(detail, dict) and detail.get("id") is not None:
        return str(detail["id"]), None, None
    return "unknown", None, None


def _adf_text(node: Any) -> str | None:
    """Plain text of an Atlassian Document Format node, one line per block."""
    if not (isinstance(node, dict) and node.get("type") == "doc"):
        return None
    lines: list[str] = []

    def walk(n: Any, line: list[str]) -> None:
        if not isinstance(n, dict):
            return
        if n.get("type") == "text" and isinstance(n.get("text"), str):
            line.append(n["text"])
        elif n.get("type") == "hardBreak":
            line.append("\n")
        for child in n.get("content", []) or []:
            if isinstance(child, dict) and child.get("type") in {
                "paragraph",
                "heading",
                "codeBlock",
                "listItem",
                "blockquote",
                "tableCell",
            }:
                inner: list[str] = []
                walk(child, inner)
                lines.append("".join(inner))
            else:
                walk(child, line)

    top: list[str] = []
    walk(node, top)
    if top:
        lines.append("".join(top))
    return "\n".join(lines)


def _strings(value: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """(JSON pointer, text) for every string in a JSON value, ADF documents as text."""
    adf = _adf_text(value)
    if adf is not None:
        yield pointer, adf
        return
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            if _SKIP_KEYS.search(str(key)) and not _has_credentials(value[key]):
                continue
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            yield from _strings(value[key], f"{pointer}/{escaped}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{pointer}/{i}")
    elif isinstance(value, str):
        yield pointer, value


def _has_credentials(value: Any) -> bool:
    return isinstance(value, str) and "@" in value and "://" in value
