"""Hostile archives: bombs, deep nesting, traversal names, links and devices, huge headers.

Every case must end in a recorded skip (with a reason a person can act on) and must never write
anything outside the documents folder and the private spool folder.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

KEY = "AKIAQWERTYUIOPASDFGH"
TEXT_NAME = re.compile(r"^[0-9a-f]{10}-[A-Za-z0-9._-]+\.txt$")


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_zip_bomb_member_is_skipped_by_ratio(tmp_path: Path, b: ModuleType, attach: Any) -> None:
    file = tmp_path / "bomb.zip"
    file.write_bytes(b.zip_bytes({"zeros.txt": b"\0" * (16 * 1024 * 1024), "ok.txt": b"fine"}))
    _, texts, skipped = attach(file, tmp_path / "out")
    assert texts == {"SEC-42/attachment/10005/bomb.zip!/ok.txt": "fine"}
    assert "compression ratio above max_ratio" in skipped[
        "SEC-42/attachment/10005/bomb.zip!/zeros.txt"]


def test_gzip_bomb_is_stopped_by_ratio_while_streaming(tmp_path: Path, attach: Any) -> None:
    file = tmp_path / "x.log.gz"
    file.write_bytes(gzip.compress(b"a" * (16 * 1024 * 1024), compresslevel=9))
    _, texts, skipped = attach(file, tmp_path / "out")
    assert texts == {}
    assert any("compression ratio above max_ratio" in why for why in skipped.values()), skipped


def test_7z_bomb_is_skipped_by_declared_ratio(tmp_path: Path, b: ModuleType,
                                              attach: Any) -> None:
    file = tmp_path / "z.7z"
    file.write_bytes(b.sevenz_bytes({"zeros.bin": b"\0" * (8 * 1024 * 1024)}))
    _, texts, skipped = attach(file, tmp_path / "out")
    assert texts == {}
    assert "compression ratio above max_ratio" in skipped["SEC-42/attachment/10005/z.7z"]


def test_total_uncompressed_limit_stops_and_marks_truncated(
    tmp_path: Path, b: ModuleType, attach: Any
) -> None:
    block = bytes(range(32, 127)) * 1000  # ~95 kB of text, barely compressible in zip-stored
    file = tmp_path / "many.zip"
    file.write_bytes(b.zip_bytes({f"f{i}.txt": block for i in range(5)},
                                 compression=zipfile.ZIP_STORED))
    manifest, texts, _ = attach(file, tmp_path / "out", max_total_uncompressed=250_000)
    assert 2 <= len(texts) <= 3
    stop = next(s for s in manifest.skipped if s.path.endswith("many.zip"))
    assert stop.truncated and "max_total_uncompressed" in stop.reason


def test_declared_entry_count_over_the_limit_is_refused_before_parsing(
    tmp_path: Path, b: ModuleType, attach: Any
) -> None:
    file = tmp_path / "n.zip"
    file.write_bytes(b.zip_bytes({f"{i}.txt": b"x" for i in range(50)}))
    _, texts, skipped = attach(file, tmp_path / "out", max_entries=10)
    assert texts == {}
    assert "declares 50 entries" in skipped["SEC-42/attachment/10005/n.zip"]


def test_tar_entry_count_limit_truncates(tmp_path: Path, b: ModuleType, attach: Any) -> None:
    file = tmp_path / "n.tar"
    file.write_bytes(b.tar_bytes({f"{i}.txt": b"x" for i in range(50)}, mode="w"))
    manifest, texts, _ = attach(file, tmp_path / "out", max_entries=10)
    assert len(texts) == 10
    stop = next(s for s in manifest.skipped if s.path.endswith("n.tar"))
    assert stop.truncated and "max_entries" in stop.reason


def test_nesting_deeper_than_max_depth_is_not_opened(
    tmp_path: Path, b: ModuleType, attach: Any
) -> None:
    data = b.zip_bytes({"secret.env": KEY.encode()})
    for level in range(5, 0, -1):
        data = b.zip_bytes({f"l{level}.zip": data})
    file = tmp_path / "l0.zip"
    file.write_bytes(data)
    _, texts, skipped = attach(file, tmp_path / "out", max_depth=3)
    assert texts == {}
    deepest = "SEC-42/attachment/10005/l0.zip!/l1.zip!/l2.zip!/l3.zip"
    assert "nested deeper than max_depth (3)" in skipped[deepest]
    _, texts, _ = attach(file, tmp_path / "out2", max_depth=6)
    assert list(texts.values()) == [KEY]


def test_traversal_and_absolute_names_never_leave_the_folder(
    tmp_path: Path, b: ModuleType, attach: Any
) -> None:
    names = ["../../evil.txt", "/etc/cron.d/evil", "..\\..\\win.txt", "a/../../../up.txt",
             "./././x.txt", "C:\\Windows\\x.txt", "line\nbreak.txt"]
    zipped = tmp_path / "in" / "t.zip"
    zipped.parent.mkdir()
    zipped.write_bytes(b.zip_bytes({n: f"{KEY} {i}".encode() for i, n in enumerate(names)}))
    tarred = tmp_path / "in" / "t.tar.gz"
    tarred.write_bytes(b.tar_bytes({n: f"{KEY} {i}".encode() for i, n in enumerate(names)}))
    work = tmp_path / "work"
    before = _tree(tmp_path)
    for file in (zipped, tarred):
        manifest, texts, _ = attach(file, tmp_path / "out", name=file.name, work_dir=work)
        assert len(texts) == len(names)
    after = _tree(tmp_path)
    new = after - before
    assert all(
        p in {"out", "out/text", "out/manifest.json", "work"} or
        (p.startswith("out/text/") and TEXT_NAME.match(p.rsplit("/", 1)[1]))
        for p in new
    ), new
    assert not list(work.iterdir())
    assert not (tmp_path / "evil.txt").exists() and not Path("/etc/cron.d/evil").exists()
    assert "SEC-42/attachment/10005/t.zip!/../../evil.txt" in texts or any(
        d.path.endswith("!/../../evil.txt") for d in manifest.documents)


def test_tar_links_devices_and_fifos_are_skipped(tmp_path: Path, attach: Any) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as archive:
        for name, kind in (("sym", tarfile.SYMTYPE), ("hard", tarfile.LNKTYPE),
                           ("dev", tarfile.CHRTYPE), ("blk", tarfile.BLKTYPE),
                           ("fifo", tarfile.FIFOTYPE)):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/shadow" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            archive.addfile(info)
        data = b"ok"
        info = tarfile.TarInfo("regular.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    file = tmp_path / "s.tar"
    file.write_bytes(buf.getvalue())
    _, texts, skipped = attach(file, tmp_path / "out")
    base = "SEC-42/attachment/10005/s.tar!/"
    assert texts == {base + "regular.txt": "ok"}
    assert "link in archive" in skipped[base + "sym"]
    assert "link in archive" in skipped[base + "hard"]
    for name in ("dev", "blk", "fifo"):
        assert "special file" in skipped[base + name]


def test_zip_symlink_member_is_skipped(tmp_path: Path, attach: Any) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.create_system = 3
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/etc/passwd")
    file = tmp_path / "l.zip"
    file.write_bytes(buf.getvalue())
    _, texts, skipped = attach(file, tmp_path / "out")
    assert texts == {}
    assert "symbolic link" in skipped["SEC-42/attachment/10005/l.zip!/link"]


def test_huge_tar_header_is_refused_without_reading_it(tmp_path: Path, attach: Any) -> None:
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = 512 * 1024 * 1024
    raw = header.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape") + b"\0" * 4096
    file = tmp_path / "pax.tar.gz"
    file.write_bytes(gzip.compress(raw))
    _, texts, skipped = attach(file, tmp_path / "out")
    assert texts == {}
    assert any("too large" in why or "corrupt" in why for why in skipped.values()), skipped


def test_oversized_office_file_is_skipped_before_parsing(
    tmp_path: Path, b: ModuleType, attach: Any
) -> None:
    file = tmp_path / "n.docx"
    b.make_docx(file, KEY)
    _, texts, skipped = attach(file, tmp_path / "out", max_document_bytes=10_000)
    assert texts == {}
    assert "max_document_bytes" in skipped["SEC-42/attachment/10005/n.docx"]


def test_file_over_max_file_size_is_skipped(tmp_path: Path, attach: Any) -> None:
    file = tmp_path / "big.txt"
    file.write_bytes(b"x" * 2000)
    _, texts, skipped = attach(file, tmp_path / "out", max_file_size=1000)
    assert texts == {}
    assert "max_file_size" in skipped["SEC-42/attachment/10005/big.txt"]
