"""Turning downloaded files into Documents: the seam every source uses for attachments.

:func:`add_file` looks at a file's first bytes (magic numbers first, then its name and media
type) and turns it into one or more Documents:

* text in any common encoding (BOM, UTF-8, UTF-16, else charset-normalizer's guess),
  decoded in a stream: a 500 MB log never sits in memory;
* archives — zip, tar (plain, gzip, bzip2, xz), single gzip/bzip2/xz files and 7z — opened
  recursively; every member becomes its own Document (part ``archive-member``) located at
  ``<attachment path>!/<member name>`` (``a.zip!/b.zip!/c.env`` when nested);
* office documents (docx, xlsx, pptx), PDF and e-mail (``.eml``, with its own attachments),
  turned into text that keeps a line structure (a paragraph, a sheet row, a PDF line per line);
* images and other binaries are skipped.

Members are never written to disk under their own names: they are read as streams, and the
few formats that need a seekable file (nested zip, 7z, office, PDF, e-mail) are spooled to
temporary files with generated names in a private work folder that is removed afterwards. So
``..``, absolute names, links and device entries cannot escape. Guards bound what one
attachment may cost: total uncompressed bytes, compression ratio, entry count, nesting depth
(:class:`AttachmentSettings`, the ``[attachments]`` config section).

Everything not scanned, or scanned only in part, is recorded in the manifest's ``skipped`` list
with a reason (``truncated`` set when a prefix was scanned). A corrupt file is a recorded skip,
never a crash. Office/PDF/7z support needs ``pip install 'ticketscan[attachments]'``; without
it such files are skipped with that hint.
"""

from __future__ import annotations

import codecs
import logging
import mimetypes
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .documents import SAMPLE_BYTES, detect_encoding
from .models import Document, Part

if TYPE_CHECKING:
    from .documents import DocumentWriter, TextOut

__all__ = ["MAX_TEXT_BYTES", "AttachmentSettings", "add_file", "sniff"]

log = logging.getLogger("ticketscan.attachments")

MiB = 1024 * 1024
GiB = 1024 * MiB
#: Default for :attr:`AttachmentSettings.max_text_bytes` (kept for older imports).
MAX_TEXT_BYTES = 1 * GiB
CHUNK = 1 * MiB
HEAD = 8192
INSTALL_HINT = "pip install 'ticketscan[attachments]'"


class AttachmentSettings(BaseModel):
    """The ``[attachments]`` config section: what is extracted and the limits that apply.

    Sizes are bytes. Limits apply per attachment (one :func:`add_file` call), across all
    nesting levels.
    """

    model_config = ConfigDict(extra="forbid")

    max_file_size: int = Field(
        default=2 * GiB, ge=0, description="A downloaded file larger than this is skipped."
    )
    max_text_bytes: int = Field(
        default=MAX_TEXT_BYTES,
        ge=0,
        description="Text read per document; a longer text is scanned up to here (truncated).",
    )
    max_member_size: int = Field(
        default=1 * GiB,
        ge=0,
        description="Uncompressed size of one non-text archive member; larger ones are skipped.",
    )
    max_total_uncompressed: int = Field(
        default=2 * GiB,
        ge=0,
        description="Bytes decompressed for one attachment, all members and levels together; "
        "extraction stops there (truncated).",
    )
    max_ratio: float = Field(
        default=250.0,
        gt=1,
        description="Compression ratio (uncompressed / compressed) above which a member or "
        "stream is treated as a bomb and skipped.",
    )
    ratio_min_bytes: int = Field(
        default=1 * MiB,
        ge=0,
        description="The ratio is checked only once a member has produced this many bytes.",
    )
    max_entries: int = Field(
        default=10_000,
        ge=1,
        description="Archive entries looked at per attachment (all levels); then it stops.",
    )
    max_depth: int = Field(
        default=5,
        ge=0,
        description="Containers nested deeper than this are not opened (0: no archives).",
    )
    max_document_bytes: int = Field(
        default=100 * MiB,
        ge=0,
        description="Office, PDF and e-mail files are parsed in memory: larger ones (for "
        "office files: their uncompressed parts) are skipped.",
    )
    max_pdf_pages: int = Field(default=2000, ge=1, description="PDF pages read; then truncated.")
    archives: bool = Field(default=True, description="Open archives (zip, tar, gz, 7z, ...).")
    office: bool = Field(default=True, description="Extract docx, xlsx, pptx and PDF text.")
    email: bool = Field(default=True, description="Extract .eml messages and their attachments.")
    work_dir: Path | None = Field(
        default=None, description="Where temporary spool files go (default: the system temp)."
    )


# ------------------------------------------------------------------------------- detection

_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),
)
_BINARIES = (
    (b"\x7fELF", "application/x-executable"),
    (b"MZ", "application/vnd.microsoft.portable-executable"),
    (b"\xca\xfe\xba\xbe", "application/java-vm"),
    (b"\x00asm", "application/wasm"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"ID3", "audio/mpeg"),
    (b"\x1aE\xdf\xa3", "video/webm"),
)
_EMAIL_HEADER = re.compile(
    rb"^(?:Return-Path|Received|From|To|Subject|Date|Message-ID|MIME-Version|Delivered-To|"
    rb"X-[A-Za-z0-9-]+|Content-Type|Reply-To|Sender|DKIM-Signature|ARC-[A-Za-z-]+):",
    re.IGNORECASE,
)
_OOXML = {
    "word/document.xml": "docx",
    "xl/workbook.xml": "xlsx",
    "ppt/presentation.xml": "pptx",
}
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "pdf": "application/pdf",
    "eml": "message/rfc822",
    "zip": "application/zip",
    "tar": "application/x-tar",
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "7z": "application/x-7z-compressed",
    "text": "text/plain",
}
_COMPRESSED_EXT = {
    "gzip": (".gz", ".tgz"),
    "bzip2": (".bz2", ".tbz2", ".tbz"),
    "xz": (".xz", ".txz"),
}


def _is_tar_header(block: bytes) -> bool:
    """A ustar magic, or a valid v7 header checksum."""
    if len(block) < 512:
        return False
    if block[257:262] == b"ustar":
        return True
    try:
        stored = int(block[148:156].replace(b"\x00", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    computed = sum(block[:148]) + 8 * 32 + sum(block[156:512])
    return stored == computed and block[0] != 0


def sniff(head: bytes, filename: str = "", media_type: str | None = None) -> tuple[str, str]:
    """(kind, media type) of a file from its first bytes, then its name and media type.

    Kinds: ``zip`` (office files are told apart later, from the member names), ``tar``,
    ``gzip``, ``bzip2``, ``xz``, ``7z``, ``pdf``, ``eml``, ``text`` (a candidate: decoding
    decides), and ``skip`` for formats that are not scanned (the media type says which).
    """
    name = filename.lower()
    mt = (media_type or "").split(";")[0].strip().lower()
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "zip", MEDIA_TYPES["zip"]
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z", MEDIA_TYPES["7z"]
    if head.startswith(b"\x1f\x8b"):
        return "gzip", MEDIA_TYPES["gzip"]
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bzip2", MEDIA_TYPES["bzip2"]
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz", MEDIA_TYPES["xz"]
    if _is_tar_header(head[:512]):
        return "tar", MEDIA_TYPES["tar"]
    if b"%PDF-" in head[:1024]:
        return "pdf", MEDIA_TYPES["pdf"]
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "skip", "application/x-ole-storage"
    if head.startswith(b"Rar!\x1a\x07"):
        return "skip", "application/vnd.rar"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "skip", "application/zstd"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "skip", "image/webp"
    for magic, image in _IMAGES:
        if head.startswith(magic):
            return "skip", image
    if head[4:8] == b"ftyp":
        return "skip", "video/mp4"
    for magic, binary in _BINARIES:
        if head.startswith(magic) and (magic != b"MZ" or b"\x00" in head[:64]):
            return "skip", binary
    if name.endswith(".eml") or mt == "message/rfc822":
        return "eml", MEDIA_TYPES["eml"]
    lines = head.split(b"\n", 8)
    if (
        _EMAIL_HEADER.match(head)
        and sum(1 for line in lines[:8] if _EMAIL_HEADER.match(line)) >= 3
        and re.search(rb"(?im)^(?:MIME-Version|Content-Type):", head)
        and re.search(rb"(?im)^From:", head)
    ):
        return "eml", MEDIA_TYPES["eml"]
    if mt.startswith("image/") or mt.startswith(("audio/", "video/")):
        return "skip", mt
    guessed = mimetypes.guess_type(name)[0] or mt or "text/plain"
    return "text", guessed if guessed.startswith("text/") or not mt else mt


# ------------------------------------------------------------------------------- limits


class _Stop(Exception):
    """An aggregate limit was reached: stop extracting this attachment."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Skip(Exception):
    """This member or stream is not scanned (or only in part)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Budget:
    """What one attachment may still cost, across all its levels."""

    def __init__(self, settings: AttachmentSettings) -> None:
        self.settings = settings
        self.uncompressed = 0
        self.entries = 0

    def charge(self, n: int) -> None:
        self.uncompressed += n
        if self.uncompressed > self.settings.max_total_uncompressed:
            raise _Stop(
                f"extraction stopped at max_total_uncompressed "
                f"({self.settings.max_total_uncompressed} bytes); the rest is not scanned"
            )

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.settings.max_entries:
            raise _Stop(
                f"extraction stopped after max_entries ({self.settings.max_entries}) archive "
                "entries; the rest is not scanned"
            )


class _Counted:
    """A read-only stream of decompressed bytes that enforces the budget and the ratio.

    ``compressed`` returns how many compressed bytes produced what was read so far (None when
    unknown); ``cap`` bounds this stream alone (raises :class:`_Skip`).
    """

    def __init__(
        self,
        raw: IO[bytes],
        budget: _Budget,
        *,
        compressed: Callable[[], int | None] = lambda: None,
        cap: int | None = None,
        cap_reason: str = "",
        max_read: int | None = None,
    ) -> None:
        self.raw = raw
        self.budget = budget
        self.compressed = compressed
        self.cap = cap
        self.cap_reason = cap_reason
        self.max_read = max_read
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = CHUNK
        if self.max_read is not None and n > self.max_read:
            raise _Skip(f"a single header or record of {n} bytes is too large")
        data = self.raw.read(n)
        self._account(len(data))
        return data

    def _account(self, n: int) -> None:
        if not n:
            return
        self.count += n
        self.budget.charge(n)
        if self.cap is not None and self.count > self.cap:
            raise _Skip(self.cap_reason or f"larger than {self.cap} bytes")
        settings = self.budget.settings
        if self.count >= settings.ratio_min_bytes:
            packed = self.compressed()
            if packed is not None and self.count > settings.max_ratio * max(packed, 1):
                raise _Skip(
                    f"compression ratio above max_ratio ({settings.max_ratio:g}): "
                    f"{self.count} bytes from {packed}; looks like a decompression bomb"
                )

    # tarfile's non-stream mode seeks forward over member data; count what is skipped
    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0:
            raise OSError("only absolute seeks")
        here = self.tell()
        if offset < here:
            raise OSError("backward seek in a compressed stream")
        remaining = offset - here
        while remaining:
            got = len(self.read(min(remaining, CHUNK)))
            if not got:
                break
            remaining -= got
        return self.tell()

    def tell(self) -> int:
        return self.count

    def seekable(self) -> bool:
        return True


# ------------------------------------------------------------------------------- extraction


@dataclass(frozen=True)
class _Node:
    """One file (an attachment or a member) being turned into Documents."""

    path: str
    filename: str
    media_type: str | None
    part: Part
    part_id: str | None
    depth: int = 0

    def child(self, name: str, *, media_type: str | None = None) -> _Node:
        clean = _display_name(name)
        return _Node(
            path=f"{self.path}!/{clean}",
            filename=clean.rsplit("/", 1)[-1] or clean,
            media_type=media_type,
            part=Part.ARCHIVE_MEMBER,
            part_id=self.part_id,
            depth=self.depth + 1,
        )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _display_name(name: str) -> str:
    """A member's name as shown in a location: never used to write a file."""
    name = _CONTROL.sub("?", name.replace("\\", "/"))
    while name.startswith(("/", "./")):
        name = name[1:] if name.startswith("/") else name[2:]
    return name[:512] or "unnamed"


_TOKENISH = re.compile(r"[A-Za-z0-9+/=_-]{16,}")


def _error(exc: BaseException) -> str:
    """An exception for a skip reason. Parser messages can quote the file's content (and so a
    secret): a message with quotes or a long token-like run is reduced to the exception type."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    if not text or any(q in text for q in "'\"`") or _TOKENISH.search(text):
        return type(exc).__name__
    return f"{type(exc).__name__}: {text[:200]}"


class _Extractor:
    def __init__(self, writer: DocumentWriter, settings: AttachmentSettings, workdir: Path):
        self.writer = writer
        self.settings = settings
        self.workdir = workdir
        self.budget = _Budget(settings)
        self.documents: list[Document] = []

    # -- entry points

    def file(self, node: _Node, file: Path) -> None:
        """A file on disk (the attachment itself, or a spooled member)."""
        try:
            with file.open("rb") as handle:
                head = handle.read(HEAD)
        except OSError as exc:
            self.skip(node, f"cannot read the file: {exc.strerror or _error(exc)}")
            return
        kind, media = sniff(head, node.filename, node.media_type)
        if kind == "zip":
            self.zip(node, file)
        elif kind in ("gzip", "bzip2", "xz", "tar"):
            self.compressed(node, file, kind)
        elif kind == "7z":
            self.sevenzip(node, file)
        elif kind == "pdf":
            self.document(node, file, "pdf")
        elif kind == "eml":
            self.email(node, file)
        elif kind == "skip":
            self.skip(node, _not_scanned(media))
        else:
            with file.open("rb") as handle:
                self.text(node, _chunks(handle), media)

    def stream(self, node: _Node, stream: IO[bytes]) -> None:
        """A member read as a stream: text is decoded on the fly, containers are spooled."""
        head = _read_exactly(stream, HEAD)
        kind, media = sniff(head, node.filename, node.media_type)
        if kind == "text":
            self.text(node, _chunks(stream, head), media)
        elif kind == "skip":
            self.skip(node, _not_scanned(media))
        else:
            spooled = self.spool(node, stream, head)
            if spooled is None:
                return
            try:
                self.file(node, spooled)
            finally:
                spooled.unlink(missing_ok=True)

    # -- plumbing

    def skip(self, node: _Node, reason: str, *, truncated: bool = False) -> None:
        self.writer.skip(node.path, reason, truncated=truncated)

    def container_allowed(self, node: _Node, what: str) -> bool:
        if not self.settings.archives:
            self.skip(node, f"{what} not opened (attachments.archives is off)")
            return False
        if node.depth >= self.settings.max_depth:
            self.skip(
                node, f"{what} nested deeper than max_depth ({self.settings.max_depth}); not opened"
            )
            return False
        return True

    def spool(self, node: _Node, stream: IO[bytes], head: bytes = b"") -> Path | None:
        """Copy a member to a temp file with a generated name; None if it was too large."""
        fd, name = tempfile.mkstemp(prefix="member-", suffix=".bin", dir=self.workdir)
        path = Path(name)
        limit = self.settings.max_member_size
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in _chunks(stream, head):
                    written += len(chunk)
                    if written > limit:
                        raise _Skip(f"larger than max_member_size ({limit} bytes)")
                    out.write(chunk)
        except _Skip as exc:
            path.unlink(missing_ok=True)
            self.skip(node, exc.reason)
            return None
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    # -- text

    def text(self, node: _Node, chunks: Iterator[bytes], media: str) -> None:
        sample = bytearray()
        for chunk in chunks:
            sample += chunk
            if len(sample) >= SAMPLE_BYTES:
                break
        complete = len(sample) < SAMPLE_BYTES
        encoding = detect_encoding(bytes(sample), complete=complete)
        if encoding is None:
            described = node.media_type or (media if media != "text/plain" else "")
            self.skip(node, _not_scanned(described or "application/octet-stream"))
            return
        limit = self.settings.max_text_bytes
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        truncated = False
        read = 0
        with self.writer.open_text(
            part=node.part,
            path=node.path,
            part_id=node.part_id,
            filename=node.filename,
            media_type=node.media_type or media or "text/plain",
        ) as out:
            for chunk in _prepend(bytes(sample), chunks):
                if read + len(chunk) > limit:
                    chunk = chunk[: limit - read]
                    truncated = True
                read += len(chunk)
                out.original(chunk)
                out.write(decoder.decode(chunk))
                if truncated:
                    break
            out.write(decoder.decode(b"", final=not truncated))
        self._added(out)
        if truncated:
            self.skip(
                node, f"text scanned up to max_text_bytes ({limit} bytes); the rest is not",
                truncated=True,
            )

    def _added(self, out: TextOut) -> None:
        if out.document is not None:
            self.documents.append(out.document)

    def add_lines(self, node: _Node, lines: Iterator[str], media: str, original: Path) -> None:
        """Extracted text (office, PDF, mail) written line by line, with the original's hash."""
        limit = self.settings.max_text_bytes
        written = 0
        truncated = False
        with self.writer.open_text(
            part=node.part,
            path=node.path,
            part_id=node.part_id,
            filename=node.filename,
            media_type=node.media_type if node.media_type not in (None, "text/plain") else media,
        ) as out:
            try:
                for line in lines:
                    line = line.replace("\r\n", "\n").replace("\r", "\n") + "\n"
                    written += len(line)
                    if written > limit:
                        truncated = True
                        break
                    out.write(line)
            finally:
                with original.open("rb") as handle:
                    for chunk in _chunks(handle):
                        out.original(chunk)
        self._added(out)
        if truncated:
            self.skip(
                node, f"text scanned up to max_text_bytes ({limit} bytes); the rest is not",
                truncated=True,
            )

    # -- archives

    def zip(self, node: _Node, file: Path) -> None:
        import zipfile
        import zlib

        try:
            entries = _zip_entry_count(file)
            if entries is not None and entries > self.settings.max_entries - self.budget.entries:
                raise _Skip(
                    f"zip archive declares {entries} entries, more than max_entries "
                    f"({self.settings.max_entries}); not opened"
                )
            with zipfile.ZipFile(file) as archive:
                names = set(archive.namelist())
                office = next((kind for member, kind in _OOXML.items() if member in names), None)
                if office is not None:
                    declared = sum(info.file_size for info in archive.infolist())
                    if declared > self.settings.max_document_bytes:
                        raise _Skip(
                            f"{office} file unpacks to {declared} bytes, more than "
                            f"max_document_bytes ({self.settings.max_document_bytes})"
                        )
                    archive.close()
                    self.document(node, file, office)
                    return
                if not self.container_allowed(node, "zip archive"):
                    return
                self._zip_members(node, archive)
        except _Skip as exc:
            self.skip(node, exc.reason)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
                NotImplementedError, RuntimeError, zlib.error) as exc:
            self.skip(node, f"corrupt or unsupported zip archive ({_error(exc)})")

    def _zip_members(self, node: _Node, archive: Any) -> None:
        import stat
        import zipfile
        import zlib

        for info in archive.infolist():
            self.budget.entry()
            child = node.child(info.filename)
            # the file type in the upper bits means something only for Unix-made zips
            kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
            if info.is_dir():
                continue
            if kind == stat.S_IFLNK:
                self.skip(child, "symbolic link in archive: not followed")
                continue
            if kind not in (0, stat.S_IFREG):
                self.skip(child, "special file in archive (device, fifo, ...): not read")
                continue
            if info.flag_bits & 0x1:
                self.skip(child, "encrypted archive member: cannot be read without a password")
                continue
            if info.file_size > self.settings.max_member_size and not _textual_name(info.filename):
                self.skip(
                    child, f"larger than max_member_size ({self.settings.max_member_size} bytes)"
                )
                continue
            packed = max(info.compress_size, 1)
            if (
                info.file_size >= self.settings.ratio_min_bytes
                and info.file_size > self.settings.max_ratio * packed
            ):
                self.skip(
                    child,
                    f"compression ratio above max_ratio ({self.settings.max_ratio:g}): "
                    f"{info.file_size} bytes from {info.compress_size}; looks like a "
                    "decompression bomb",
                )
                continue
            try:
                with archive.open(info) as raw:
                    stream = _Counted(raw, self.budget, compressed=_constant(packed))
                    self.stream(child, stream)  # type: ignore[arg-type]
            except _Skip as exc:
                self.skip(child, exc.reason)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
                    RuntimeError, zlib.error) as exc:
                self.skip(child, f"cannot read archive member ({_error(exc)})")

    def compressed(self, node: _Node, file: Path, kind: str) -> None:
        """tar (plain or compressed), or a single gzip/bzip2/xz stream."""
        import bz2
        import gzip
        import lzma
        import zlib

        what = "tar archive" if kind == "tar" else f"{kind} file"
        if not self.container_allowed(node, what):
            return
        before = len(self.writer.documents)
        try:
            with file.open("rb") as raw:
                inner: Any  # closed with ``raw``; decompressors hold no other resource
                if kind == "gzip":
                    inner = gzip.GzipFile(fileobj=raw, mode="rb")
                elif kind == "bzip2":
                    inner = bz2.BZ2File(raw, mode="rb")
                elif kind == "xz":
                    inner = lzma.LZMAFile(raw, mode="rb")  # noqa: SIM115
                else:
                    inner = raw
                packed = raw.tell if kind != "tar" else (lambda: None)
                stream = _Counted(inner, self.budget, compressed=packed, max_read=64 * MiB)
                head = _read_exactly(stream, 512)  # type: ignore[arg-type]
                if _is_tar_header(head):
                    self._tar(node, stream, head)
                else:
                    name = _inner_name(node.filename, kind, file)
                    child = node.child(name)
                    self.stream(child, _Prepended(head, stream))  # type: ignore[arg-type]
        except _Skip as exc:
            partial = len(self.writer.documents) > before
            self.skip(node, exc.reason + ("; extraction stopped there" if partial else ""),
                      truncated=partial)
        except (OSError, EOFError, ValueError, lzma.LZMAError, RuntimeError, zlib.error) as exc:
            partial = len(self.writer.documents) > before
            self.skip(node, f"corrupt or unsupported {what} ({_error(exc)})", truncated=partial)

    def _tar(self, node: _Node, stream: _Counted, head: bytes) -> None:
        import tarfile

        source = _Prepended(head, stream)
        try:
            archive = tarfile.open(fileobj=source, mode="r:")  # type: ignore[call-overload]  # noqa: SIM115
        except tarfile.TarError as exc:
            raise _Skip(f"corrupt tar archive ({_error(exc)})") from None
        with archive:
            while True:
                try:
                    info = archive.next()
                except tarfile.TarError as exc:
                    self.skip(node, f"tar archive is corrupt after {self.budget.entries} "
                              f"entries ({_error(exc)}); the rest is not scanned", truncated=True)
                    return
                if info is None:
                    return
                archive.members.clear()  # keep memory flat on long archives
                self.budget.entry()
                child = node.child(info.name)
                if info.isdir():
                    continue
                if info.issym() or info.islnk():
                    self.skip(child, "link in archive: not followed")
                    continue
                if not info.isreg():
                    self.skip(child, "special file in archive (device, fifo, ...): not read")
                    continue
                if info.size > self.settings.max_member_size and not _textual_name(info.name):
                    self.skip(
                        child,
                        f"larger than max_member_size ({self.settings.max_member_size} bytes)",
                    )
                    continue
                member = archive.extractfile(info)
                if member is None:  # pragma: no cover - isreg() members always have data
                    continue
                try:
                    self.stream(child, member)
                except _Skip as exc:
                    self.skip(child, exc.reason)
                except (OSError, EOFError, tarfile.TarError) as exc:
                    self.skip(child, f"cannot read archive member ({_error(exc)})")

    def sevenzip(self, node: _Node, file: Path) -> None:
        if not self.container_allowed(node, "7z archive"):
            return
        try:
            import py7zr
        except ImportError:
            self.skip(node, f"7z archive not opened: py7zr is not installed ({INSTALL_HINT})")
            return
        from . import _sevenzip

        try:
            _sevenzip.extract(self, node, file, py7zr)
        except _Skip as exc:
            self.skip(node, exc.reason)
        except (py7zr.exceptions.ArchiveError, OSError, EOFError, ValueError, KeyError,
                IndexError, TypeError, AttributeError, NotImplementedError, RuntimeError,
                MemoryError) as exc:
            self.skip(node, f"corrupt or unsupported 7z archive ({_error(exc)})")

    # -- documents

    def document(self, node: _Node, file: Path, kind: str) -> None:
        if not self.settings.office:
            self.skip(node, f"{kind} not extracted (attachments.office is off)")
            return
        size = file.stat().st_size
        if size > self.settings.max_document_bytes:
            self.skip(
                node, f"{kind} file of {size} bytes is larger than max_document_bytes "
                f"({self.settings.max_document_bytes}); not parsed"
            )
            return
        from . import _office

        try:
            lines = _office.extract(kind, file, self.settings, self.skip_callback(node))
            self.add_lines(node, lines, MEDIA_TYPES[kind], file)
        except _office.MissingDependency as exc:
            self.skip(node, f"{kind} not extracted: {exc} is not installed ({INSTALL_HINT})")
        except _office.Unreadable as exc:
            self.skip(node, f"{kind} not extracted: {exc}")
        except (_Stop, _Skip, KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except Exception as exc:  # third-party parsers raise anything on corrupt input
            self.skip(node, f"corrupt or unsupported {kind} file ({_error(exc)})")

    def skip_callback(self, node: _Node) -> Callable[[str, bool], None]:
        def record(reason: str, truncated: bool = False) -> None:
            self.skip(node, reason, truncated=truncated)

        return record

    def email(self, node: _Node, file: Path) -> None:
        if not self.settings.email:
            with file.open("rb") as handle:
                self.text(node, _chunks(handle), "message/rfc822")
            return
        size = file.stat().st_size
        if size > self.settings.max_document_bytes:
            self.skip(
                node, f"e-mail of {size} bytes is larger than max_document_bytes "
                f"({self.settings.max_document_bytes}); read as plain text instead",
                truncated=True,
            )
            with file.open("rb") as handle:
                self.text(node, _chunks(handle), "message/rfc822")
            return
        from . import _mail

        try:
            _mail.extract(self, node, file)
        except (_Stop, _Skip):
            raise
        except Exception as exc:  # the email package raises anything on hostile input
            self.skip(node, f"corrupt e-mail ({_error(exc)})")

    def member_bytes(self, node: _Node, data: bytes) -> None:
        """A member already in memory (an e-mail attachment): spool it and process it."""
        self.budget.entry()
        self.budget.charge(len(data))
        fd, name = tempfile.mkstemp(prefix="member-", suffix=".bin", dir=self.workdir)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            self.file(node, path)
        finally:
            path.unlink(missing_ok=True)


# ------------------------------------------------------------------------------- helpers


def _not_scanned(media: str) -> str:
    if media.startswith("image/"):
        return f"image ({media}) is not scanned: no text to read (no OCR)"
    if media == "application/x-ole-storage":
        return ("legacy or password-protected Office file (OLE compound document) is not "
                "supported; save it as docx/xlsx/pptx")
    if media == "application/vnd.rar":
        return "RAR archives are not supported"
    if media == "application/zstd":
        return "zstd-compressed files are not supported"
    return f"binary content ({media}) is not scanned"


_TEXT_EXT = (".txt", ".log", ".env", ".json", ".yaml", ".yml", ".xml", ".csv", ".conf", ".ini",
             ".cfg", ".properties", ".sql", ".sh", ".py", ".js", ".ts", ".md", ".html", ".har")


def _textual_name(name: str) -> bool:
    """Members that look like text are read (and truncated) rather than skipped when large."""
    return name.lower().endswith(_TEXT_EXT)


def _inner_name(filename: str, kind: str, file: Path) -> str:
    if kind == "gzip":
        try:
            with file.open("rb") as raw:
                header = raw.read(1024)
            if header[3] & 0x08:  # FNAME
                start = 10
                if header[3] & 0x04:  # FEXTRA
                    start += 2 + int.from_bytes(header[10:12], "little")
                end = header.index(b"\x00", start)
                name = header[start:end].decode("latin-1")
                if name:
                    return name.rsplit("/", 1)[-1]
        except (OSError, ValueError, IndexError):
            pass
    lower = filename.lower()
    for ext in _COMPRESSED_EXT.get(kind, ()):
        if lower.endswith(ext):
            stem = filename[: -len(ext)]
            return stem + ".tar" if ext.startswith(".t") and len(ext) > 3 else stem
    return filename or "data"


def _zip_entry_count(file: Path) -> int | None:
    """Entries a zip declares, read from its end record before parsing the directory."""
    import zipfile

    try:
        with file.open("rb") as handle:
            end = zipfile._EndRecData(handle)  # type: ignore[attr-defined]
    except (OSError, AttributeError, ValueError, IndexError):
        return None
    if not end:
        return None
    return int(end[zipfile._ECD_ENTRIES_TOTAL])  # type: ignore[attr-defined]


def _constant(value: int) -> Callable[[], int | None]:
    return lambda: value


def _read_exactly(stream: IO[bytes], n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def _chunks(stream: IO[bytes], head: bytes = b"") -> Iterator[bytes]:
    if head:
        yield head
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        yield chunk


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


class _Prepended:
    """A stream that yields ``head`` and then ``rest`` (seekable forward like ``rest``)."""

    def __init__(self, head: bytes, rest: _Counted | IO[bytes]) -> None:
        self.head = head
        self.rest = rest
        self.pos = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = CHUNK
        out = b""
        if self.pos < len(self.head):
            out = self.head[self.pos : self.pos + n]
            self.pos += len(out)
            n -= len(out)
        if n > 0:
            more = self.rest.read(n)
            self.pos += len(more)
            out += more
        return out

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0 or offset < self.pos:
            if whence == 1 and offset == 0:
                return self.pos
            raise OSError("only forward absolute seeks")
        remaining = offset - self.pos
        while remaining:
            got = len(self.read(min(remaining, CHUNK)))
            if not got:
                break
            remaining -= got
        return self.pos

    def seekable(self) -> bool:
        return True


# ------------------------------------------------------------------------------- public


def add_file(
    writer: DocumentWriter,
    *,
    part: Part,
    path: str,
    file: Path,
    part_id: str | None,
    filename: str,
    media_type: str | None,
) -> list[Document]:
    """Turn one downloaded file into Documents; record in the manifest what was not scanned.

    Never raises for bad content: a corrupt, hostile or unsupported file is a recorded skip.
    """
    settings = writer.attachments or AttachmentSettings()
    node = _Node(path=path, filename=filename, media_type=media_type, part=part, part_id=part_id)
    try:
        size = file.stat().st_size
    except OSError as exc:
        writer.skip(path, f"cannot read the file: {exc.strerror or _error(exc)}")
        return []
    if size > settings.max_file_size:
        writer.skip(path, f"file of {size} bytes is larger than max_file_size "
                    f"({settings.max_file_size}); not scanned")
        return []
    if settings.work_dir is not None:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ticketscan-att-", dir=settings.work_dir))
    extractor = _Extractor(writer, settings, workdir)
    try:
        extractor.file(node, file)
    except _Stop as exc:
        writer.skip(path, exc.reason, truncated=True)
    except _Skip as exc:
        writer.skip(path, exc.reason)
    except RecursionError:
        writer.skip(path, "nested too deeply to read; not scanned", truncated=True)
    except Exception as exc:  # a parser failing in a way not foreseen: record it, go on
        log.warning("extracting %s failed: %s", path, _error(exc))
        writer.skip(
            path, f"extraction failed ({_error(exc)}); what was not extracted is not scanned",
            truncated=bool(extractor.documents),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return extractor.documents

