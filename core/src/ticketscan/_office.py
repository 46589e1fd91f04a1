"""Text of office documents and PDF, one line per paragraph / sheet row / PDF text line.

Used by :mod:`ticketscan.attachments`; the parsers (python-docx, openpyxl, python-pptx,
pypdf) are imported only when such a file shows up (``ticketscan[attachments]``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attachments import AttachmentSettings

__all__ = ["MissingDependency", "Unreadable", "extract"]

#: Cells looked at per workbook (empty ones included) before the text is truncated.
MAX_CELLS = 20_000_000


class MissingDependency(Exception):
    """The parser for this format is not installed (the message names the package)."""


class Unreadable(Exception):
    """The file is valid but cannot be read (encrypted, ...); the message says why."""


Record = Callable[[str, bool], None]


def extract(kind: str, file: Path, settings: AttachmentSettings, record: Record) -> Iterator[str]:
    """Lines of text of ``file`` (a ``docx``, ``xlsx``, ``pptx`` or ``pdf``)."""
    if kind == "docx":
        return _docx(file)
    if kind == "xlsx":
        return _xlsx(file, record)
    if kind == "pptx":
        return _pptx(file)
    if kind == "pdf":
        return _pdf(file, settings, record)
    raise ValueError(f"unknown document kind {kind}")


# ------------------------------------------------------------------------------------ docx

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_PARTS = ("/header", "/footer", "/footnotes", "/endnotes", "/comments")


def _docx(file: Path) -> Iterator[str]:
    try:
        import docx
    except ImportError:
        raise MissingDependency("python-docx") from None
    document = docx.Document(str(file))
    yield from _blocks(document.element.body)
    seen: set[str] = set()
    for rel in document.part.rels.values():
        if rel.is_external:
            if rel.reltype.endswith("/hyperlink"):
                yield f"link: {rel.target_ref}"
            continue
        if rel.reltype.endswith(_PARTS):
            part = rel.target_part
            name = str(part.partname)
            element = getattr(part, "element", None)
            if name in seen or element is None:
                continue
            seen.add(name)
            yield from _blocks(element)
    props = document.core_properties
    for label in ("title", "subject", "keywords", "comments", "author", "category"):
        value = getattr(props, label, None)
        if value:
            yield f"{label}: {value}"


def _blocks(element: Any) -> Iterator[str]:
    """Paragraphs one per line, table rows one per line (cells tab-separated), in order."""
    for child in element.iterchildren():
        tag = child.tag
        if tag == f"{_W}p":
            yield _paragraph(child)
            for box in child.iter(f"{_W}txbxContent"):
                yield from _blocks(box)
        elif tag == f"{_W}tbl":
            for row in child.iter(f"{_W}tr"):
                if _inside(row, child, f"{_W}tbl"):
                    continue
                cells = [
                    " ".join(_blocks(cell)).strip()
                    for cell in row.iterchildren(f"{_W}tc")
                ]
                yield "\t".join(cells)
        elif isinstance(tag, str):
            yield from _blocks(child)


def _inside(node: Any, top: Any, tag: str) -> bool:
    """True if ``node`` sits in a nested ``tag`` below ``top`` (a nested table's row)."""
    parent = node.getparent()
    while parent is not None and parent is not top:
        if parent.tag == tag:
            return True
        parent = parent.getparent()
    return False


def _paragraph(p: Any) -> str:
    out: list[str] = []
    for node in p.iter(f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr", f"{_W}instrText"):
        if _inside(node, p, f"{_W}txbxContent"):
            continue
        tag = node.tag
        if tag == f"{_W}tab":
            out.append("\t")
        elif tag in (f"{_W}br", f"{_W}cr"):
            out.append("\n")
        elif node.text:
            out.append(node.text)
    return "".join(out)


# ------------------------------------------------------------------------------------ xlsx


def _xlsx(file: Path, record: Record) -> Iterator[str]:
    try:
        import openpyxl
        from openpyxl.utils import get_column_letter
    except ImportError:
        raise MissingDependency("openpyxl") from None
    workbook = openpyxl.load_workbook(str(file), read_only=True, data_only=False, keep_links=False)
    cells = 0
    try:
        for sheet in workbook.worksheets:
            title = sheet.title
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # a lying <dimension> must not pad rows
            for row_number, row in enumerate(sheet.iter_rows(), 1):
                cells += len(row)
                if cells > MAX_CELLS:
                    record(f"workbook has more than {MAX_CELLS} cells; the rest is not scanned",
                           True)
                    return
                values = [getattr(cell, "value", None) for cell in row]
                filled = [i for i, value in enumerate(values) if value is not None and value != ""]
                if not filled:
                    continue
                first, last = filled[0], filled[-1]
                cell = row[first]
                number = getattr(cell, "row", None) or row_number
                column = getattr(cell, "column", None) or first + 1
                ref = f"{get_column_letter(column)}{number}"
                text = "\t".join(_cell(v) for v in values[first : last + 1])
                yield f"{title}!{ref}: {text}"
    finally:
        workbook.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value).replace("\r\n", " ").replace("\n", " ").replace("\t", " ")


# ------------------------------------------------------------------------------------ pptx


def _pptx(file: Path) -> Iterator[str]:
    try:
        import pptx
    except ImportError:
        raise MissingDependency("python-pptx") from None
    presentation = pptx.Presentation(str(file))
    for number, slide in enumerate(presentation.slides, 1):
        yield f"[slide {number}]"
        for shape in slide.shapes:
            yield from _shape(shape)
        if slide.has_notes_slide:
            frame = slide.notes_slide.notes_text_frame
            if frame is not None:
                for paragraph in frame.paragraphs:
                    yield paragraph.text.replace("\v", "\n")


def _shape(shape: Any) -> Iterator[str]:
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        for paragraph in shape.text_frame.paragraphs:
            yield paragraph.text.replace("\v", "\n")
            for run in paragraph.runs:
                address = run.hyperlink.address
                if address:
                    yield f"link: {address}"
    if getattr(shape, "has_table", False) and shape.has_table:
        for row in shape.table.rows:
            yield "\t".join(cell.text.replace("\n", " ").replace("\v", " ") for cell in row.cells)
    for child in getattr(shape, "shapes", ()) or ():  # group shapes
        yield from _shape(child)


# ------------------------------------------------------------------------------------- pdf


def _pdf(file: Path, settings: AttachmentSettings, record: Record) -> Iterator[str]:
    try:
        import pypdf
    except ImportError:
        raise MissingDependency("pypdf") from None
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = pypdf.PdfReader(str(file), strict=False)
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except Exception as exc:  # pypdf raises its own errors, or lacks a crypto library
            raise Unreadable(f"encrypted PDF cannot be opened ({type(exc).__name__})") from None
        if not opened:
            raise Unreadable("encrypted PDF needs a password")
    pages = len(reader.pages)
    for number in range(min(pages, settings.max_pdf_pages)):
        try:
            text = reader.pages[number].extract_text() or ""
        except Exception as exc:  # one bad page must not lose the others
            record(f"PDF page {number + 1} could not be read ({type(exc).__name__}); "
                   "its text is not scanned", True)
            continue
        yield from text.splitlines()
    if pages > settings.max_pdf_pages:
        record(f"PDF has {pages} pages; text read up to max_pdf_pages "
               f"({settings.max_pdf_pages})", True)
