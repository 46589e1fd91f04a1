"""container/fetch-release.py, the build step that installs the scanner binaries: it installs
only an archive whose sha256 matches, and refuses a missing, malformed or wrong checksum."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "container" / "fetch-release.py"


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, str]:
    """A release archive like gitleaks': the binary plus README and LICENSE."""
    archive = tmp_path / "tool_1.2.3_linux_x64.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in (("README.md", b"readme"), ("LICENSE", b"MIT"),
                           ("tool", b"#!/bin/sh\necho tool 1.2.3\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


def fetch(archive: Path, sha256: str, dest: Path, version: str = "1.2.3"
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--name", "tool", "--version", version,
         "--url", archive.as_uri(), "--sha256", sha256, "--member", "tool",
         "--dest", str(dest)],
        capture_output=True, text=True, timeout=60, check=False)


def test_matching_checksum_installs_the_binary(release, tmp_path: Path) -> None:
    archive, digest = release
    dest = tmp_path / "bin" / "tool"
    proc = fetch(archive, digest, dest)
    assert proc.returncode == 0, proc.stderr
    assert dest.read_bytes().startswith(b"#!/bin/sh") and dest.stat().st_mode & 0o111


def test_empty_checksum_fails_and_names_the_build_arg(release, tmp_path: Path) -> None:
    archive, _ = release
    proc = fetch(archive, "", tmp_path / "tool")
    assert proc.returncode == 1
    assert "--build-arg TOOL_SHA256=" in proc.stderr and "README" in proc.stderr
    assert not (tmp_path / "tool").exists()


def test_wrong_checksum_fails_before_extracting(release, tmp_path: Path) -> None:
    archive, digest = release
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    proc = fetch(archive, wrong, tmp_path / "tool")
    assert proc.returncode == 1 and "checksum mismatch" in proc.stderr
    assert not (tmp_path / "tool").exists()


def test_malformed_checksum_fails(release, tmp_path: Path) -> None:
    archive, digest = release
    proc = fetch(archive, digest[:40], tmp_path / "tool")
    assert proc.returncode == 1 and "64 hexadecimal" in proc.stderr


def test_url_must_name_the_pinned_version(release, tmp_path: Path) -> None:
    archive, digest = release
    proc = fetch(archive, digest, tmp_path / "tool", version="9.9.9")
    assert proc.returncode == 1 and "pinned version" in proc.stderr


def test_plain_http_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--name", "tool", "--version", "1.2.3",
         "--url", "http://example.invalid/tool_1.2.3.tar.gz", "--sha256", "a" * 64,
         "--member", "tool", "--dest", str(tmp_path / "tool")],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1 and "non-HTTPS" in proc.stderr
