"""What scanners read: the documents' text files, plus decoded views of them.

``prepare_views`` returns the inputs for a scan and a ``locate`` function that maps a finding
in any input back to its document and its original line and column. With decoding off, the
inputs are the documents themselves and ``locate`` is the identity.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .components import ScanInput
from .models import Manifest, RawFinding

__all__ = ["ViewSet", "prepare_views"]


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


def prepare_views(
    manifest: Manifest, docs_dir: Path, workdir: Path, *, decode: bool = True
) -> ViewSet:
    """The scan inputs for ``manifest``: every document, plus decoded views if ``decode``.

    All inputs live in one folder, ``workdir/inputs`` (documents are hard-linked there, or
    copied across file systems), so engines that scan a directory see exactly the inputs.
    """
    root = (workdir / "inputs").resolve()
    root.mkdir(parents=True, exist_ok=True)
    inputs = []
    for doc in manifest.documents:
        target = root / f"{doc.id}.txt"
        _link_or_copy((docs_dir / doc.text_path).resolve(), target)
        inputs.append(ScanInput(doc.id, target))
    views = ViewSet(root=root, inputs=inputs)
    if decode:
        try:
            from .decoding import add_decoded_views
        except ImportError:  # decoding not built into this core
            return views
        add_decoded_views(views, manifest, docs_dir, workdir)
    return views


def _link_or_copy(source: Path, target: Path) -> None:
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
