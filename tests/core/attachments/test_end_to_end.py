"""Every supported format, with a planted fake AWS key, found by `ticketscan scan` on a folder.

The folder is fetched by the built-in `files` source (which hands each file to
DocumentWriter.add_file, like the Jira and Zendesk sources do) and scanned by detect-secrets in
a fresh CLI process. Each key must come back as a finding at the right location, and never in
clear in any output.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import random
from pathlib import Path
from types import ModuleType
from typing import Any


def _plant(b: ModuleType, folder: Path) -> dict[str, tuple[str, str, int]]:
    """Write one file per format; return key -> (expected location path, text line, line no)."""
    rng = random.Random(4242)
    keys = {label: b.aws_key(rng) for label in (
        "docx", "docx-header", "xlsx", "pptx", "pdf", "eml-qp", "eml-html", "eml-zip",
        "zip-in-zip", "tar-gz", "tar-bz2", "tar-xz", "gz", "7z", "utf16", "cp1252",
    )}
    line = b.secret_line
    b.make_docx(folder / "notes.docx", keys["docx"])
    b.make_docx_header_secret(folder / "header.docx", keys["docx-header"])
    b.make_xlsx(folder / "book.xlsx", keys["xlsx"])
    b.make_pptx(folder / "deck.pptx", keys["pptx"])
    (folder / "scan.pdf").write_bytes(b.make_pdf(["Report", "", line(keys["pdf"])]))
    (folder / "qp.eml").write_bytes(b.make_eml(keys["eml-qp"]))
    (folder / "html.eml").write_bytes(b.make_eml(keys["eml-html"], html=True))
    attached = b.zip_bytes({"conf/app.env": (line(keys["eml-zip"]) + "\n").encode()})
    (folder / "fwd.eml").write_bytes(b.make_eml(keys["eml-zip"], attachment=("logs.zip", attached)))
    inner = b.zip_bytes({"c.env": f"# deep\n{line(keys['zip-in-zip'])}\n".encode()})
    (folder / "a.zip").write_bytes(b.zip_bytes({"readme.txt": b"hello\n", "b.zip": inner}))
    members = {"etc/app.conf": lambda k: f"x=1\n{line(k)}\n".encode()}
    (folder / "t.tar.gz").write_bytes(b.tar_bytes({"etc/app.conf": members["etc/app.conf"](
        keys["tar-gz"])}, mode="w:gz"))
    (folder / "t.tar.bz2").write_bytes(b.tar_bytes({"etc/app.conf": members["etc/app.conf"](
        keys["tar-bz2"])}, mode="w:bz2"))
    (folder / "t.tar.xz").write_bytes(b.tar_bytes({"etc/app.conf": members["etc/app.conf"](
        keys["tar-xz"])}, mode="w:xz"))
    (folder / "server.log.gz").write_bytes(gzip.compress(f"start\n{line(keys['gz'])}\n".encode()))
    seven = b.sevenz_bytes({"cfg/prod.env": f"{line(keys['7z'])}\n".encode()})
    (folder / "x.7z").write_bytes(seven)
    (folder / "utf16.txt").write_bytes(f"title\n{line(keys['utf16'])}\n".encode("utf-16"))
    (folder / "legacy.txt").write_bytes(f"Grüße\n{line(keys['cp1252'])}\n".encode("cp1252"))
    assert bz2 and lzma  # the tar modes above use them
    return {
        keys["docx"]: ("notes.docx", "", 0),
        keys["docx-header"]: ("header.docx", "", 0),
        keys["xlsx"]: ("book.xlsx", "Creds!A3", 0),
        keys["pptx"]: ("deck.pptx", "", 0),
        keys["pdf"]: ("scan.pdf", "", 0),
        keys["eml-qp"]: ("qp.eml!/body-1.txt", "", 3),
        keys["eml-html"]: ("html.eml!/body-2.html", "", 0),
        keys["eml-zip"]: ("fwd.eml!/logs.zip!/conf/app.env", "", 1),
        keys["zip-in-zip"]: ("a.zip!/b.zip!/c.env", "", 2),
        keys["tar-gz"]: ("t.tar.gz!/etc/app.conf", "", 2),
        keys["tar-bz2"]: ("t.tar.bz2!/etc/app.conf", "", 2),
        keys["tar-xz"]: ("t.tar.xz!/etc/app.conf", "", 2),
        keys["gz"]: ("server.log.gz!/server.log", "", 2),
        keys["7z"]: ("x.7z!/cfg/prod.env", "", 1),
        keys["utf16"]: ("utf16.txt", "", 2),
        keys["cp1252"]: ("legacy.txt", "", 2),
    }


def test_every_format_is_scanned_end_to_end(tmp_path: Path, b: ModuleType, cli: Any) -> None:
    folder = tmp_path / "ticket"
    folder.mkdir()
    planted = _plant(b, folder)
    out = tmp_path / "findings.jsonl"
    result = cli(["scan", str(folder), "--scanner", "detect-secrets", "--out", str(out)])
    assert result.returncode in (0, 1), result.stderr
    findings = [json.loads(line) for line in out.read_text().splitlines()]
    by_sha: dict[str, list[dict]] = {}
    for finding in findings:
        by_sha.setdefault(finding["secret_sha256"], []).append(finding)
    missing = []
    for key, (path, _, line) in planted.items():
        sha = hashlib.sha256(key.encode()).hexdigest()
        hits = [f for f in by_sha.get(sha, []) if f["location"]["path"] == path]
        if not hits:
            missing.append(path)
            continue
        if line:
            assert hits[0]["location"]["line"] == line, path
    assert not missing, f"planted keys not found in: {missing}"
    for text in (out.read_text(), result.stdout, result.stderr):
        for key in planted:
            assert key not in text
