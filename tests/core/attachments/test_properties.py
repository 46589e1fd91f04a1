"""Property tests: on any archive tree (nested zip/tar, hostile names, links, devices, bombs,
many entries) and on arbitrary bytes, extraction never raises, never writes outside its
folders, leaves no spool files behind and stays within its limits."""

from __future__ import annotations

import io
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from ticketscan.attachments import AttachmentSettings
from ticketscan.documents import DocumentWriter
from ticketscan.models import Part, TicketEvent, TicketRef

LIMITS = AttachmentSettings(
    max_total_uncompressed=256 * 1024,
    max_member_size=128 * 1024,
    max_entries=25,
    max_depth=3,
    max_ratio=50,
    ratio_min_bytes=8 * 1024,
    max_text_bytes=64 * 1024,
)

HOSTILE = ["../../x", "/etc/passwd", "..\\..\\y", "a/../../b", "./c", "", ".", "..",
           "dir/", "nul\x00byte", "line\nbreak", "C:\\w.txt", "~/.ssh/id_rsa", "a" * 300]
names = st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=20))
payloads = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda c, n: c * n, st.sampled_from([b"\0", b"A", b"ab\n"]),
              st.integers(0, 400_000)),  # repetitive: ratio bombs at the larger sizes
    st.sampled_from([b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"\x1f\x8b\x08", b"%PDF-1.4",
                     b"7z\xbc\xaf\x27\x1c"]),
)
SPECIAL = ["symlink", "hardlink", "chr", "blk", "fifo", "dir"]


def archives(children: Any) -> Any:
    member = st.tuples(names, st.one_of(children, st.sampled_from(SPECIAL)))
    return st.tuples(st.sampled_from(["zip", "tar", "tar.gz", "tar.bz2"]),
                     st.lists(member, max_size=6))


trees = st.recursive(payloads, archives, max_leaves=12)


def build(tree: Any) -> bytes:
    if isinstance(tree, bytes):
        return tree
    kind, members = tree
    buf = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, child in members:
                info = zipfile.ZipInfo(name.replace("\x00", "") or "x")
                if child == "symlink":
                    info.create_system = 3
                    info.external_attr = 0o120777 << 16
                    archive.writestr(info, "/etc/passwd")
                elif isinstance(child, str):
                    archive.writestr(info, b"")
                else:
                    archive.writestr(info, build(child), zipfile.ZIP_DEFLATED)
        return buf.getvalue()
    mode = {"tar": "w", "tar.gz": "w:gz", "tar.bz2": "w:bz2"}[kind]
    with tarfile.open(  # type: ignore[call-overload]
        fileobj=buf, mode=mode, format=tarfile.PAX_FORMAT
    ) as archive:
        for name, child in members:
            info = tarfile.TarInfo(name.replace("\x00", "") or "x")
            if isinstance(child, str):
                info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                             "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE,
                             "fifo": tarfile.FIFOTYPE, "dir": tarfile.DIRTYPE}[child]
                info.linkname = "../../../etc/shadow"
                archive.addfile(info)
            else:
                data = build(child)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def run(data: bytes, filename: str) -> tuple[Path, Any, set[str]]:
    with tempfile.TemporaryDirectory(prefix="att-prop-") as name:
        root = Path(name)
        source = root / "upload.bin"
        source.write_bytes(data)
        work = root / "work"
        event = TicketEvent(system="jira", event_type="t", delivery_id="d",
                            ticket=TicketRef(system="jira", key="SEC-1"))
        writer = DocumentWriter(root / "out", event, LIMITS.model_copy(update={"work_dir": work}))
        writer.add_file(part=Part.ATTACHMENT, path=f"SEC-1/attachment/1/{filename}",
                        file=source, part_id="1", filename=filename)
        manifest = writer.close()
        tree = {p.relative_to(root).as_posix() for p in root.rglob("*")}
        return root, manifest, tree


def check(manifest: Any, tree: set[str], filename: str) -> None:
    allowed = {"upload.bin", "work", "out", "out/text", "out/manifest.json"}
    texts = {f"out/{d.text_path}" for d in manifest.documents}
    assert tree - allowed == texts, tree - allowed - texts  # nothing else was written anywhere
    prefix = f"SEC-1/attachment/1/{filename}"
    assert all(d.path.startswith(prefix) for d in manifest.documents)
    assert all(s.path.startswith(prefix) for s in manifest.skipped)
    members = [d for d in manifest.documents if d.part is Part.ARCHIVE_MEMBER]
    assert len(members) <= LIMITS.max_entries
    assert sum(d.size for d in members) <= LIMITS.max_total_uncompressed
    assert all(s.reason for s in manifest.skipped)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(tree=archives(trees), filename=st.sampled_from(["a.zip", "b.tar.gz", "c", "d.txt"]))
def test_archive_trees_stay_in_their_folder_and_limits(tree: Any, filename: str) -> None:
    _, manifest, files = run(build(tree), filename)
    check(manifest, files, filename)


@settings(max_examples=40, deadline=None)
@given(count=st.integers(0, 400), kind=st.sampled_from(["zip", "tar", "tar.gz"]))
def test_huge_entry_counts_stop_at_max_entries(count: int, kind: str) -> None:
    tree = (kind, [(f"f{i}.txt", b"x") for i in range(count)])
    _, manifest, files = run(build(tree), "many")
    check(manifest, files, "many")
    if count > LIMITS.max_entries:
        # stopped by the entry limit, or earlier by the ratio guard (tiny members compress well)
        assert any(
            s.truncated or "ratio" in s.reason or "max_entries" in s.reason
            for s in manifest.skipped
        )


@settings(max_examples=150, deadline=None)
@given(magic=st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b",
                              b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", b"BZh9",
                              b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c", b"%PDF-1.7\n",
                              b"From: a@b\nTo: c@d\nMIME-Version: 1.0\nSubject: x\n\n",
                              b"\xff\xfe", b"\xef\xbb\xbf"]),
       body=st.binary(max_size=2000),
       filename=st.sampled_from(["x.docx", "x.xlsx", "x.pptx", "x.pdf", "x.eml", "x.tgz",
                                 "x.bin", "x"]))
def test_arbitrary_bytes_never_crash(magic: bytes, body: bytes, filename: str) -> None:
    _, manifest, files = run(magic + body, filename)
    check(manifest, files, filename)
