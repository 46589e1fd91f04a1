"""Documents directories: what ``fetch`` writes and ``scan`` reads.

A documents directory holds ``manifest.json`` (a :class:`~ticketscan.models.Manifest`) and one
UTF-8 text file per Document under ``text/``. Sources write it through a
:class:`DocumentWriter`; scanners see it as a :class:`~ticketscan.components.ScanBatch`.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import InputError
from .models import Document, Manifest, Part, SkippedPart, TicketEvent

if TYPE_CHECKING:
    from .attachments import AttachmentSettings

__all__ = [
    "MANIFEST",
    "DocumentWriter",
    "TextOut",
    "decode_bytes",
    "detect_encoding",
    "read_manifest",
]

MANIFEST = "manifest.json"
TEXT_DIR = "text"
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


#: How many leading bytes decide a file's encoding (and whether it is text at all).
SAMPLE_BYTES = 64 * 1024

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def detect_encoding(sample: bytes, *, complete: bool = False) -> str | None:
    """The text encoding of ``sample`` (a file's first bytes), or None if it looks binary.

    Order: a byte-order mark; UTF-8 (a sequence cut at the end of the sample is fine unless
    ``complete``); UTF-16 without a BOM (every other byte NUL); any other NUL byte means
    binary; otherwise charset-normalizer's best guess (``ticketscan[attachments]``), or
    Latin-1 when it is not installed. The name returned works with :mod:`codecs`.
    """
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if not sample:
        return "utf-8"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
        if b"\x00" not in sample:
            return "utf-8"
    except UnicodeDecodeError:
        pass
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return utf16
    if b"\x00" in sample:
        return None
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - charset-normalizer ships with the attachments extra
        return None if _controls(sample) > 0.1 else "latin-1"
    best = from_bytes(sample).best()
    if best is None:
        return None
    try:
        return codecs.lookup(best.encoding).name
    except LookupError:  # pragma: no cover - charset-normalizer only names Python codecs
        return None


def _utf16_without_bom(sample: bytes) -> str | None:
    if len(sample) < 16 or (len(sample) % 2 and len(sample) < 64):
        return None
    even, odd = sample[0::2], sample[1::2]
    for zeros, other, name in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) > 0.9 * len(zeros) and other.count(0) < 0.05 * len(other):
            return name
    return None


def _controls(sample: bytes) -> float:
    bad = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return bad / max(len(sample), 1)


def decode_bytes(data: bytes) -> tuple[str, str] | None:
    """Decode bytes as text: (text, encoding), or None if they look binary.

    The encoding is chosen from the first :data:`SAMPLE_BYTES` (see :func:`detect_encoding`);
    bytes that do not decode become U+FFFD, so nothing is silently dropped.
    """
    encoding = detect_encoding(data[:SAMPLE_BYTES], complete=len(data) <= SAMPLE_BYTES)
    if encoding is None:
        return None
    return data.decode(encoding, errors="replace"), encoding


class DocumentWriter:
    """Writes Documents for one event into ``out_dir`` and the manifest on :meth:`close`.

    Document ids are derived from the document path, so fetching the same ticket twice gives
    the same files (steps are idempotent).
    """

    def __init__(
        self,
        out_dir: Path,
        event: TicketEvent,
        attachments: AttachmentSettings | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.event = event
        #: Limits for :meth:`add_file` (the ``[attachments]`` config section); None = defaults.
        self.attachments = attachments
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

    @contextmanager
    def open_text(
        self,
        *,
        part: Part,
        path: str,
        part_id: str | None = None,
        filename: str | None = None,
        media_type: str = "text/plain",
        author: str | None = None,
        created_at: datetime | None = None,
        public: bool | None = None,
    ) -> Iterator[TextOut]:
        """Write one document's text in pieces (for text too large to hold in memory).

        Feed the original bytes to :meth:`TextOut.original` as they are read (for ``size`` and
        ``sha256``) and the decoded text to :meth:`TextOut.write`. The Document is added when
        the block ends without an error (then it is ``out.document``); on an error its text
        file is removed and nothing is added.
        """
        doc_id = self._new_id(path)
        text_path = f"{TEXT_DIR}/{doc_id}.txt"
        target = self.out_dir / text_path
        handle = target.open("w", encoding="utf-8", errors="surrogatepass", newline="")
        out = TextOut(handle)
        try:
            yield out
        except BaseException:
            handle.close()
            target.unlink(missing_ok=True)
            raise
        handle.close()
        size, sha = out.digest()
        out.document = Document(
            id=doc_id,
            ticket=self.event.ticket,
            part=part,
            part_id=part_id,
            path=path,
            filename=filename,
            media_type=media_type,
            size=size,
            sha256=sha,
            text_path=text_path,
            author=author,
            created_at=created_at,
            public=public,
        )
        self.documents.append(out.document)

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


class TextOut:
    """Where :meth:`DocumentWriter.open_text` writes one document's text."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self._original = hashlib.sha256()
        self._original_size = 0
        self._fed = False
        self._text = hashlib.sha256()
        self._text_size = 0
        self.chars = 0
        self.document: Document | None = None

    def original(self, data: bytes) -> None:
        """Account for original bytes this text was decoded from."""
        self._fed = True
        self._original.update(data)
        self._original_size += len(data)

    def write(self, text: str) -> None:
        if not text:
            return
        self._handle.write(text)
        self.chars += len(text)
        if not self._fed:
            data = text.encode("utf-8", "surrogatepass")
            self._text.update(data)
            self._text_size += len(data)

    def digest(self) -> tuple[int, str]:
        """(size, sha256) of the original bytes, or of the text if none were fed."""
        if self._fed:
            return self._original_size, self._original.hexdigest()
        return self._text_size, self._text.hexdigest()


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
