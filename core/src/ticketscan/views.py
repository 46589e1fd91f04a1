"""What scanners read: the documents' text files, plus decoded views of them.

``document_inputs`` gives the documents themselves as scan inputs; ``decoded_inputs`` gives
their decoded views (in a folder of their own) with a ``locate`` mapping that turns a finding
in a view back into one in its document, at the original line and column. The scan step starts
the scanners on the documents and decodes meanwhile (see ``scanning.run_scanners``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .components import ScanInput
from .models import Manifest, RawFinding

__all__ = ["ViewSet", "decoded_inputs", "document_inputs", "single_pass_inputs"]


@dataclass
class ViewSet:
    """Scan inputs and how to map findings in them back to the original documents."""

    root: Path
    inputs: list[ScanInput]
    #: view id -> function mapping a RawFinding in that view to one in its document (or None).
    mappers: dict[str, Callable[[RawFinding], RawFinding | None]] = field(default_factory=dict)

    def locate(self, raw: RawFinding) -> RawFinding | None:
        mapper = self.mappers.get(raw.document)
        return raw if mapper is None else mapper(raw)


def document_inputs(manifest: Manifest, docs_dir: Path, workdir: Path) -> ViewSet:
    """The documents themselves as scan inputs, in one folder holding nothing else.

    That is the documents directory's own ``text/`` when every document lives there (as
    ``fetch`` writes them; nothing is copied), else ``workdir/inputs`` with hard links.
    """
    text_dir = (docs_dir / "text").resolve()
    names = [doc.text_path.removeprefix("text/") for doc in manifest.documents]
    if text_dir.is_dir() and all("/" not in n and n != ".." for n in names):
        with os.scandir(text_dir) as entries:
            if {e.name for e in entries} == set(names):
                docs = zip(manifest.documents, names, strict=True)
                return ViewSet(
                    root=text_dir, inputs=[ScanInput(d.id, text_dir / n) for d, n in docs]
                )
    root = (workdir / "inputs").resolve()
    return ViewSet(root=root, inputs=_linked_documents(manifest, docs_dir, root))


def single_pass_inputs(manifest: Manifest, docs_dir: Path, workdir: Path) -> ViewSet:
    """Documents and their decoded views together in ``workdir/inputs``, for one pass."""
    from .decoding import add_decoded_views

    root = (workdir / "inputs").resolve()
    views = ViewSet(root=root, inputs=_linked_documents(manifest, docs_dir, root))
    add_decoded_views(views, manifest, docs_dir, workdir)  # writes the views into root too
    return views


def decoded_inputs(manifest: Manifest, docs_dir: Path, workdir: Path) -> ViewSet:
    """The decoded views of the documents as scan inputs, in ``workdir/views``."""
    from .decoding import add_decoded_views

    root = (workdir / "views").resolve()
    root.mkdir(parents=True, exist_ok=True)
    views = ViewSet(root=root, inputs=[])
    add_decoded_views(views, manifest, docs_dir, workdir)
    return views


def _linked_documents(manifest: Manifest, docs_dir: Path, root: Path) -> list[ScanInput]:
    """Hard-link (or copy, across file systems) every document's text into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    inputs = []
    for doc in manifest.documents:
        target = root / f"{doc.id}.txt"
        _link_or_copy((docs_dir / doc.text_path).resolve(), target)
        inputs.append(ScanInput(doc.id, target))
    return inputs


def _link_or_copy(source: Path, target: Path) -> None:
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
