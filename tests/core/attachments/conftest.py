"""Fixtures for the attachments tests: the file builders and an in-process fetch of a folder."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ticketscan.attachments import AttachmentSettings
from ticketscan.builtins.sources import FilesSource
from ticketscan.documents import DocumentWriter
from ticketscan.models import Manifest, Part, TicketEvent, TicketRef
from ticketscan.steps import fetch_event

_spec = importlib.util.spec_from_file_location(
    "attachments_builders", Path(__file__).with_name("builders.py")
)
assert _spec and _spec.loader
builders = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(builders)


@pytest.fixture(scope="session")
def b() -> ModuleType:
    """The builders module (tests/core/attachments/builders.py)."""
    return builders


Fetched = tuple[Manifest, dict[str, str], dict[str, str]]


def fetch_folder(folder: Path, out: Path, **limits: Any) -> Fetched:
    """Fetch ``folder`` with the files source: (manifest, path -> text, path -> skip reason)."""
    settings = AttachmentSettings(**limits) if limits else None
    event = FilesSource.event_for([folder], ticket="ATT-1")
    manifest = fetch_event(FilesSource(), event, out, attachments=settings)
    return manifest, texts_of(manifest, out), {s.path: s.reason for s in manifest.skipped}


def texts_of(manifest: Manifest, out: Path) -> dict[str, str]:
    return {
        d.path: (out / d.text_path).read_bytes().decode("utf-8", "surrogatepass")
        for d in manifest.documents
    }


@pytest.fixture
def fetch(tmp_path: Path) -> Callable[..., Fetched]:
    """fetch(name_or_files, **limits): write files into a folder and fetch it."""

    def run(files: dict[str, bytes], **limits: Any) -> Fetched:
        folder = tmp_path / "in"
        folder.mkdir(exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        return fetch_folder(folder, tmp_path / "out", **limits)

    return run


@pytest.fixture
def attach() -> Callable[..., Fetched]:
    """attach(file, out, name=..., **limits): add_file as a Jira attachment would."""
    return add_one


def add_one(file: Path, out: Path, *, name: str | None = None, **limits: Any) -> Fetched:
    """Run DocumentWriter.add_file on one file as a Jira attachment would."""
    event = TicketEvent(
        system="jira", event_type="attachment_created", delivery_id="d",
        ticket=TicketRef(system="jira", key="SEC-42"),
    )
    writer = DocumentWriter(out, event, AttachmentSettings(**limits))
    writer.add_file(
        part=Part.ATTACHMENT, path=f"SEC-42/attachment/10005/{name or file.name}", file=file,
        part_id="10005", filename=name or file.name,
    )
    manifest = writer.close()
    return manifest, texts_of(manifest, out), {s.path: s.reason for s in manifest.skipped}
