"""Turning downloaded files into Documents.

This module is the seam every source uses for attachments. It currently handles text in
common encodings and records everything else as skipped with a reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .documents import decode_bytes
from .models import Document, Part

if TYPE_CHECKING:
    from pathlib import Path

    from .documents import DocumentWriter

__all__ = ["MAX_TEXT_BYTES", "add_file"]

#: Files larger than this are not read as text.
MAX_TEXT_BYTES = 64 * 1024 * 1024


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
    size = file.stat().st_size
    if size > MAX_TEXT_BYTES:
        writer.skip(path, f"larger than {MAX_TEXT_BYTES} bytes ({size})")
        return []
    data = file.read_bytes()
    decoded = decode_bytes(data)
    if decoded is None:
        writer.skip(path, f"binary content ({media_type or 'unknown type'}) is not scanned")
        return []
    text, _encoding = decoded
    return [
        writer.add_text(
            part=part,
            path=path,
            text=text,
            part_id=part_id,
            filename=filename,
            media_type=media_type or "text/plain",
            original=data,
        )
    ]
