"""What each format turns into: locations, line structure, media types and skip reasons."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ticketscan.attachments import AttachmentSettings, sniff
from ticketscan.config import load_config
from ticketscan.documents import decode_bytes, detect_encoding
from ticketscan.errors import ConfigError
from ticketscan.models import Part

KEY = "AKIAQWERTYUIOPASDFGH"


def test_member_location_is_appended_to_the_attachment_path(
    tmp_path: Path, b: ModuleType, attach: Any
) -> None:
    inner = b.zip_bytes({"c.env": b"TOKEN=1\n"})
    file = tmp_path / "logs.zip"
    file.write_bytes(b.zip_bytes({"conf/app.env": b"A=1\n", "b.zip": inner}))
    manifest, texts, _ = attach(file, tmp_path / "out")
    paths = {d.path: d for d in manifest.documents}
    member = paths["SEC-42/attachment/10005/logs.zip!/conf/app.env"]
    assert member.part is Part.ARCHIVE_MEMBER
    assert member.part_id == "10005"
    assert member.filename == "app.env"
    assert "SEC-42/attachment/10005/logs.zip!/b.zip!/c.env" in paths
    assert texts["SEC-42/attachment/10005/logs.zip!/b.zip!/c.env"] == "TOKEN=1\n"


def test_docx_gives_one_line_per_paragraph_and_table_row(tmp_path: Path, b: ModuleType,
                                                          fetch: Any) -> None:
    b.make_docx(tmp_path / "n.docx", KEY)
    _, texts, _ = fetch({"n.docx": (tmp_path / "n.docx").read_bytes()})
    lines = texts["n.docx"].splitlines()
    assert lines[:5] == [
        "Incident notes",
        "The customer pasted their config below.",
        "setting\tvalue",
        "region\teu-west-1",
        f"aws_access_key_id = {KEY}",
    ]
    assert "confidential footer" in lines


def test_xlsx_gives_one_line_per_row_with_sheet_and_cell(tmp_path: Path, b: ModuleType,
                                                          fetch: Any) -> None:
    b.make_xlsx(tmp_path / "w.xlsx", KEY)
    _, texts, _ = fetch({"w.xlsx": (tmp_path / "w.xlsx").read_bytes()})
    assert texts["w.xlsx"].splitlines() == [
        "Summary!A1: nothing here",
        "Creds!A1: name\tvalue",
        f"Creds!A3: deploy\taws_access_key_id = {KEY}",
    ]


def test_pptx_text_boxes_are_lines(tmp_path: Path, b: ModuleType, fetch: Any) -> None:
    b.make_pptx(tmp_path / "d.pptx", KEY)
    _, texts, _ = fetch({"d.pptx": (tmp_path / "d.pptx").read_bytes()})
    assert texts["d.pptx"].splitlines() == [
        "[slide 1]", "Rollout", "steps:", f"aws_access_key_id = {KEY}",
    ]


def test_pdf_lines_are_kept(b: ModuleType, fetch: Any) -> None:
    manifest, texts, _ = fetch({"r.pdf": b.make_pdf(["one", "two", KEY])})
    assert texts["r.pdf"].splitlines() == ["one", "two", KEY]
    assert manifest.documents[0].media_type == "application/pdf"


def test_eml_bodies_are_decoded_and_headers_kept(b: ModuleType, fetch: Any) -> None:
    raw = b.make_eml(KEY, html=True, cte="quoted-printable")
    _, texts, _ = fetch({"m.eml": raw})
    assert "Subject: Cannot log in" in texts["m.eml!/headers"].splitlines()
    assert texts["m.eml!/body-1.txt"].splitlines()[-1] == f"aws_access_key_id = {KEY}"
    html = texts["m.eml!/body-2.html"]
    assert "Hi & thanks" in html and "<p>" not in html


def test_eml_is_recognised_without_its_extension(b: ModuleType, fetch: Any) -> None:
    _, texts, _ = fetch({"message.txt": b.make_eml(KEY, cte="base64")})
    assert KEY in texts["message.txt!/body-1.txt"]


def test_eml_attachments_are_extracted_recursively(b: ModuleType, fetch: Any) -> None:
    attached = b.zip_bytes({"x/y.env": KEY.encode()})
    _, texts, _ = fetch({"m.eml": b.make_eml(KEY, attachment=("a.zip", attached))})
    assert texts["m.eml!/a.zip!/x/y.env"] == KEY


def test_single_gzip_member_is_named_from_its_header(fetch: Any) -> None:
    data = io.BytesIO()
    with gzip.GzipFile(filename="original.log", mode="wb", fileobj=data) as gz:
        gz.write(b"line\n")
    _, texts, _ = fetch({"upload.gz": data.getvalue()})
    assert texts == {"upload.gz!/original.log": "line\n"}


@pytest.mark.parametrize(
    ("encoding", "text"),
    [("utf-8", "naïve ключ"), ("utf-16", "naïve ключ"), ("cp1252", "Grüße, café"),
     ("utf-8-sig", "bom"), ("shift_jis", "パスワードは次の通りです。よろしくお願いします")],
)
def test_text_in_common_encodings_is_decoded(fetch: Any, encoding: str, text: str) -> None:
    _, texts, _ = fetch({"t.txt": f"{text}\n{KEY}\n".encode(encoding)})
    assert texts["t.txt"] == f"{text}\n{KEY}\n"


def test_utf16_without_bom_is_text() -> None:
    data = f"hello world {KEY}\n".encode("utf-16-le")
    assert detect_encoding(data) == "utf-16-le"
    assert decode_bytes(data) == (f"hello world {KEY}\n", "utf-16-le")


def test_crlf_line_structure_is_kept(fetch: Any) -> None:
    _, texts, _ = fetch({"w.txt": b"a\r\nb\r\n"})
    assert texts["w.txt"] == "a\r\nb\r\n"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("p.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image (image/png) is not scanned"),
        ("j.bin", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image (image/jpeg)"),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "OLE compound document"),
        ("a.rar", b"Rar!\x1a\x07\x01\x00" + b"\x00" * 64, "RAR archives are not supported"),
        ("prog", b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "binary content"),
        ("blob.dat", bytes(range(256)) * 4, "binary content"),
        ("bad.zip", b"PK\x03\x04 truncated", "corrupt or unsupported zip archive"),
        ("bad.pdf", b"%PDF-1.4\n1 0 obj garbage", "pdf"),
        ("bad.gz", b"\x1f\x8b\x08\x00garbage", "corrupt or unsupported gzip file"),
        ("bad.docx", b"PK\x03\x04" + b"\x00" * 40, "corrupt or unsupported zip archive"),
    ],
)
def test_unsupported_or_corrupt_files_are_recorded_skips(
    fetch: Any, name: str, data: bytes, reason: str
) -> None:
    _, texts, skipped = fetch({name: data})
    assert name not in texts or name == "bad.pdf"
    assert any(path.startswith(name) and reason in why for path, why in skipped.items()), skipped


def test_corrupt_docx_part_is_a_skip_not_a_crash(tmp_path: Path, fetch: Any) -> None:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<not-xml")
    _, texts, skipped = fetch({"x.docx": data.getvalue()})
    assert texts == {}
    assert "corrupt or unsupported docx file" in skipped["x.docx"]


def test_encrypted_zip_member_is_skipped_with_reason(fetch: Any) -> None:
    data = bytearray(zipfile_bytes := _zip_with_flag())
    assert zipfile_bytes
    _, texts, skipped = fetch({"enc.zip": bytes(data)})
    assert texts == {}
    assert "encrypted" in skipped["enc.zip!/secret.txt"]


def _zip_with_flag() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("secret.txt", b"x")
    raw = bytearray(buf.getvalue())
    # set the "encrypted" flag bit in the local and central headers
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.index(signature)
        raw[at + offset] |= 0x01
    return bytes(raw)


def test_missing_office_dependency_gives_an_install_hint(
    b: ModuleType, tmp_path: Path, fetch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    b.make_docx(tmp_path / "n.docx", KEY)
    monkeypatch.setitem(sys.modules, "docx", None)
    _, texts, skipped = fetch({"n.docx": (tmp_path / "n.docx").read_bytes()})
    assert texts == {}
    assert "python-docx is not installed" in skipped["n.docx"]
    assert "ticketscan[attachments]" in skipped["n.docx"]


def test_long_text_is_truncated_and_recorded(fetch: Any) -> None:
    manifest, texts, _ = fetch({"big.log": b"0123456789\n" * 100}, max_text_bytes=55)
    assert texts["big.log"] == "0123456789\n" * 5
    skip = next(s for s in manifest.skipped if s.path == "big.log")
    assert skip.truncated and "max_text_bytes" in skip.reason


def test_switches_turn_extraction_off(b: ModuleType, fetch: Any) -> None:
    _, texts, skipped = fetch(
        {"a.zip": b.zip_bytes({"x.txt": b"x"}), "r.pdf": b.make_pdf(["x"])},
        archives=False, office=False,
    )
    assert texts == {}
    assert "attachments.archives is off" in skipped["a.zip"]
    assert "attachments.office is off" in skipped["r.pdf"]


def test_sniff_prefers_magic_bytes_over_the_name() -> None:
    assert sniff(b"PK\x03\x04....", "notes.txt")[0] == "zip"
    assert sniff(b"%PDF-1.7", "image.png")[0] == "pdf"
    assert sniff(b"plain words", "x.eml")[0] == "eml"
    assert sniff(b"plain words", "x.txt", "image/png") == ("skip", "image/png")


def test_attachments_config_section_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[attachments]\nmax_depth = 2\nmax_ratio = 50\n")
    config = load_config(good, env={})
    assert config.attachments.max_depth == 2 and config.attachments.max_ratio == 50
    bad = tmp_path / "bad.toml"
    bad.write_text("[attachments]\nmax_dept = 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad, env={})
    assert "attachments" in str(info.value) and "max_dept" in str(info.value)


def test_attachments_settings_come_from_env() -> None:
    config = load_config(env={"TICKETSCAN__ATTACHMENTS__MAX_ENTRIES": "7"})
    assert config.attachments.max_entries == 7
    assert AttachmentSettings().max_entries == 10_000


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /X (" + KEY.encode() + b") >> " + KEY.encode(),
        b"PK\x03\x04" + KEY.encode() * 3,
        b"\x1f\x8b\x08\x00" + KEY.encode() * 3,
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + KEY.encode() * 3,
    ],
)
def test_skip_reasons_never_quote_file_content(fetch: Any, data: bytes) -> None:
    manifest, _, _ = fetch({"bad.bin": data})
    assert manifest.skipped
    assert KEY not in json.dumps([s.model_dump() for s in manifest.skipped])


def test_importing_core_does_not_load_the_parsers() -> None:
    code = (
        "import sys, ticketscan.cli.main, ticketscan.config, ticketscan.attachments, "
        "ticketscan.steps\n"
        "heavy = [m for m in ('docx', 'openpyxl', 'pptx', 'pypdf', 'py7zr', 'charset_normalizer',"
        " 'lxml') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""
