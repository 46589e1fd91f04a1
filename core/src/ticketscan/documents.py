"""Documents directories: what ``fetch`` writes and ``scan`` reads.

A documents directory holds ``manifest.json`` (a :class:`~ticketscan.models.Manifest`) and one
UTF-8 text file per Document under ``text/``. Sources write it through a
:class:`DocumentWriter`; scanners see it as a :class:`~ticketscan.components.ScanBatch`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from .errors import InputError
from .models import Document, Manifest, Part, SkippedPart, TicketEvent

__all__ = ["MANIFEST", "DocumentWriter", "decode_bytes", "read_manifest"]

MANIFEST = "manifest.json"
TEXT_DIR = "text"
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def decode_bytes(data: bytes) -> tuple[str, str] | None:
    """Decode bytes as text: (text, encoding), or None if they look binary."""
    if not data:
        return "", "utf-8"
    if data.startswith((b"\xef\xbb\xbf",)):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    sample = data[:8192]
    if b"\x00" in sample:
        return None
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - charset-normalizer ships with the attachments extra
        return data.decode("latin-1"), "latin-1"
    best = from_bytes(data).best()
    if best is None:
        return None
    return str(best), best.encoding


class DocumentWriter:
    """Writes Documents for one event into ``out_dir`` and the manifest on :meth:`close`.

    Document ids are derived from the document path, so fetching the same ticket twice gives
    the same files (steps are idempotent).
    """

    def __init__(self, out_dir: Path, event: TicketEvent) -> None:
        self.out_dir = out_dir
        self.event = event
        self.documents: list[Document] = []
        self.skipped: list[SkippedPart] = []
        self._ids: set[str] = set()
        (out_dir / TEXT_DIR).mkdir(parents=True, exist_ok=True)

    def _new_id(self, path: str) -> str:
        slug = _SLUG.sub("_", path)[-48:].strip("_.") or "doc"
        digest = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        base = f"{digest}-{slug}"
        candidate, n = base, 1
        while candidate in self._ids:
            n += 1
            candidate = f"{base}-{n}"
        self._ids.add(candidate)
        return candidate

    def add_text(
        self,
        *,
        part: Part,
        path: str,
        text: str,
        part_id: str | None = None,
        filename: str | None = None,
        media_type: str = "text/plain",
        original: bytes | None = None,
        author: str | None = None,
        created_at: datetime | None = None,
        public: bool | None = None,
    ) -> Document:
        """Add one text document. ``original`` are the bytes it came from, if not the text."""
        doc_id = self._new_id(path)
        data = original if original is not None else text.encode("utf-8", "surrogatepass")
        text_path = f"{TEXT_DIR}/{doc_id}.txt"
        (self.out_dir / text_path).write_text(
            text, encoding="utf-8", errors="surrogatepass", newline=""
        )
        doc = Document(
            id=doc_id,
            ticket=self.event.ticket,
            part=part,
            part_id=part_id,
            path=path,
            filename=filename,
            media_type=media_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            text_path=text_path,
            author=author,
            created_at=created_at,
            public=public,
        )
        self.documents.append(doc)
        return doc

    def add_file(
        self,
        *,
        part: Part,
        path: str,
        file: Path,
        part_id: str | None = None,
        filename: str | None = None,
        media_type: str | None = None,
    ) -> list[Document]:
        """Add a downloaded file: text as-is; archives, office, PDF and mail are extracted."""
        from . import attachments

        return attachments.add_file(
            self,
            part=part,
            path=path,
            file=file,
            part_id=part_id,
            filename=filename or file.name,
            media_type=media_type,
        )

    def skip(self, path: str, reason: str, *, truncated: bool = False) -> None:
        """Record a part that was not (fully) scanned, and why."""
        self.skipped.append(SkippedPart(path=path, reason=reason, truncated=truncated))

    def close(self) -> Manifest:
        manifest = Manifest(event=self.event, documents=self.documents, skipped=self.skipped)
        tmp = self.out_dir / (MANIFEST + ".tmp")
        tmp.write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(self.out_dir / MANIFEST)
        return manifest


def read_manifest(docs_dir: Path) -> Manifest:
    """Read and validate ``docs_dir/manifest.json``."""
    path = docs_dir / MANIFEST
    if not docs_dir.is_dir():
        raise InputError(f"documents directory {docs_dir} does not exist")
    if not path.is_file():
        raise InputError(
            f"{docs_dir} has no {MANIFEST}",
            hint="run 'ticketscan fetch' first, or pass a folder of plain files to scan in place",
        )
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValueError as exc:
        raise InputError(f"{path} is not a valid manifest: {_first_error(exc)}") from None


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        return f"{loc}: {first.get('msg')}"
    return str(exc)


def iter_text_documents(manifest: Manifest, docs_dir: Path) -> Iterator[tuple[Document, Path]]:
    for doc in manifest.documents:
        yield doc, docs_dir / doc.text_path


def dump_json(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
