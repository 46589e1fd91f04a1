"""7z archives via py7zr, streamed into temp files with generated names (never by member name)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attachments import _Extractor, _Node

__all__ = ["extract"]


class _Sink:
    """Where py7zr writes one member: a temp file, capped at ``limit`` bytes.

    Duck-types ``py7zr.io.Py7zIO`` (registered as a virtual subclass when py7zr is loaded).
    """

    def __init__(self, workdir: Path, limit: int) -> None:
        fd, name = tempfile.mkstemp(prefix="member-", suffix=".bin", dir=workdir)
        self.path = Path(name)
        self.handle = os.fdopen(fd, "wb")
        self.limit = limit
        self.written = 0
        self.over = False

    def write(self, data: bytes | bytearray) -> int:
        self.written += len(data)
        if self.written > self.limit:
            self.over = True  # keep counting, stop storing
        else:
            self.handle.write(data)
        return len(data)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.written if whence else offset

    def flush(self) -> None:
        self.handle.flush()

    def size(self) -> int:
        return self.written

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        if not self.handle.closed:
            self.handle.close()


def extract(extractor: _Extractor, node: _Node, file: Path, py7zr: Any) -> None:
    from py7zr.io import Py7zIO, WriterFactory

    Py7zIO.register(_Sink)

    from .attachments import _Skip, _Stop

    settings = extractor.settings
    budget = extractor.budget
    sinks: dict[str, _Sink] = {}

    class Factory(WriterFactory):
        def create(self, filename: str) -> Py7zIO:
            sink = _Sink(extractor.workdir, settings.max_member_size)
            sinks[filename] = sink
            return sink  # type: ignore[return-value]

    remaining = max(settings.max_total_uncompressed - budget.uncompressed, 1)
    try:
        with file.open("rb") as handle, py7zr.SevenZipFile(
            handle, mode="r", max_extract_size=remaining
        ) as archive:
            if archive.needs_password():
                raise _Skip("encrypted 7z archive: cannot be read without a password")
            targets: list[str] = []
            declared = 0
            for info in archive.files:
                budget.entry()
                if info.is_directory:
                    continue
                child = node.child(info.filename)
                if info.is_symlink or info.is_junction:
                    extractor.skip(child, "link in archive: not followed")
                    continue
                if info.is_socket or not info.is_file:
                    extractor.skip(child, "special file in archive (device, fifo, ...): not read")
                    continue
                if not _plain_name(info.filename):
                    extractor.skip(
                        child, "member name points outside the archive (absolute or '..'); "
                        "py7zr refuses to read it"
                    )
                    continue
                declared += int(info.uncompressed or 0)
                targets.append(info.filename)
            size = max(file.stat().st_size, 1)
            if declared >= settings.ratio_min_bytes and declared > settings.max_ratio * size:
                raise _Skip(
                    f"compression ratio above max_ratio ({settings.max_ratio:g}): {declared} "
                    f"bytes from {size}; looks like a decompression bomb"
                )
            if targets:
                try:
                    archive.extract(targets=targets, factory=Factory())
                except py7zr.exceptions.DecompressionBombError:
                    raise _Stop(
                        "extraction stopped at max_total_uncompressed "
                        f"({settings.max_total_uncompressed} bytes); the rest is not scanned"
                    ) from None
        for name, sink in sinks.items():
            sink.close()
            child = node.child(name)
            budget.charge(sink.written)
            if sink.over:
                extractor.skip(
                    child, f"larger than max_member_size ({settings.max_member_size} bytes)"
                )
                continue
            extractor.file(child, sink.path)
            sink.path.unlink(missing_ok=True)
    finally:
        for sink in sinks.values():
            sink.close()
            sink.path.unlink(missing_ok=True)


def _plain_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return not name.startswith(("/", "\\")) and ".." not in parts and ":" not in parts[0]
