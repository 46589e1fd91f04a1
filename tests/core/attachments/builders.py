"""Test files built in code: every format the attachments extractor reads, with planted text.

Nothing here is copied from elsewhere: office files are written with python-docx, openpyxl and
python-pptx, PDFs by hand (a minimal valid PDF 1.4 with one text line per row), mail with the
stdlib ``email`` package, archives with zipfile/tarfile/py7zr.
"""

from __future__ import annotations

import io
import random
import tarfile
import zipfile
import zlib
from email.message import EmailMessage
from pathlib import Path

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def aws_key(rng: random.Random | None = None) -> str:
    """A fake, structurally valid AWS access key id (AKIA + 16 of [A-Z2-7])."""
    rng = rng or random.Random()
    return "AKIA" + "".join(rng.choice(_B32) for _ in range(16))


def secret_line(key: str) -> str:
    return f"aws_access_key_id = {key}"


def make_pdf(lines: list[str], *, compress: bool = True) -> bytes:
    """A minimal valid one-page PDF showing ``lines`` in Helvetica, one text line each."""
    ops = ["BT", "/F1 11 Tf", "14 TL", "50 780 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    content = "\n".join(ops).encode("latin-1")
    stream_dict = b"<< /Length %d >>" % len(content)
    if compress:
        content = zlib.compress(content)
        stream_dict = b"<< /Length %d /Filter /FlateDecode >>" % len(content)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        stream_dict + b"\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def make_docx(path: Path, key: str) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Incident notes", level=1)
    document.add_paragraph("The customer pasted their config below.")
    table = document.add_table(rows=2, cols=2)
    table.rows[0].cells[0].text = "setting"
    table.rows[0].cells[1].text = "value"
    table.rows[1].cells[0].text = "region"
    table.rows[1].cells[1].text = "eu-west-1"
    document.add_paragraph(secret_line(key))
    document.sections[0].footer.paragraphs[0].text = "confidential footer"
    document.save(str(path))


def make_docx_header_secret(path: Path, key: str) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("body without secrets")
    document.sections[0].header.paragraphs[0].text = secret_line(key)
    document.save(str(path))


def make_xlsx(path: Path, key: str) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    first = workbook.active
    first.title = "Summary"
    first["A1"] = "nothing here"
    second = workbook.create_sheet("Creds")
    second["A1"] = "name"
    second["B1"] = "value"
    second["A3"] = "deploy"
    second["B3"] = secret_line(key)
    workbook.save(str(path))


def make_pptx(path: Path, key: str) -> None:
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = "Rollout"
    box = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(2))
    box.text_frame.text = "steps:"
    box.text_frame.add_paragraph().text = secret_line(key)
    presentation.save(str(path))


def make_eml(key: str, *, attachment: tuple[str, bytes] | None = None, html: bool = False,
             cte: str = "quoted-printable") -> bytes:
    message = EmailMessage()
    message["From"] = "Customer <customer@example.com>"
    message["To"] = "support@example.com"
    message["Subject"] = "Cannot log in"
    body = "Hi,\nmy keys are below.\n" + ("" if attachment else secret_line(key) + "\n")
    message.set_content(body, cte=cte)
    if html:
        message.add_alternative(
            f"<html><body><p>Hi &amp; thanks</p><p>{secret_line(key)}</p></body></html>",
            subtype="html", cte="base64",
        )
    if attachment:
        name, data = attachment
        message.add_attachment(data, maintype="application", subtype="octet-stream",
                               filename=name)
    return message.as_bytes()


def zip_bytes(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes], *, mode: str = "w:gz",
              links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buf.getvalue()


def sevenz_bytes(members: dict[str, bytes]) -> bytes:
    import py7zr

    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return buf.getvalue()
