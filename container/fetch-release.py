#!/usr/bin/env python3
"""Download one release archive, verify its sha256, and install one binary from it.

Used by container/Dockerfile at build time (standard library only: the build stage has no
curl). Refuses to run without a checksum, and fails the build on any mismatch:

    fetch-release.py --name gitleaks --version 8.30.1 \
        --url https://github.com/gitleaks/gitleaks/releases/download/v8.30.1/$ASSET \
        --sha256 <64 hex digits> --member gitleaks --dest /opt/scanners/bin/gitleaks

(ASSET=gitleaks_8.30.1_linux_x64.tar.gz)

Exit codes: 0 installed; 1 checksum missing, malformed or not matching, or the archive does not
hold the binary; 3 the download failed (retry the build).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

HEX64 = re.compile(r"[0-9a-f]{64}")
CHUNK = 1 << 20


def fail(message: str, code: int = 1) -> None:
    print(f"fetch-release: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def download(url: str, target: Path, timeout: float) -> str:
    """Stream ``url`` into ``target``; return the sha256 of what was written."""
    digest = hashlib.sha256()
    if not url.startswith(("https://", "file://")):
        fail(f"refusing a non-HTTPS URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, target.open("wb") as out:  # noqa: S310
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        fail(f"download of {url} failed: {exc}", code=3)
    return digest.hexdigest()


def extract_member(archive: Path, member: str, dest: Path) -> None:
    """Copy the regular file called ``member`` (at any depth) out of a tar archive."""
    with tarfile.open(archive) as tar:
        candidates = [
            info for info in tar.getmembers()
            if info.isfile() and Path(info.name).name == member
        ]
        if len(candidates) != 1:
            fail(f"{archive.name} holds {len(candidates)} files named {member!r}, expected 1")
        source = tar.extractfile(candidates[0])
        assert source is not None
        dest.parent.mkdir(parents=True, exist_ok=True)
        with source, dest.open("wb") as out:
            shutil.copyfileobj(source, out)
    dest.chmod(0o755)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="Tool name (for messages).")
    parser.add_argument("--version", required=True, help="Pinned release version.")
    parser.add_argument("--url", required=True, help="Release archive URL (https).")
    parser.add_argument("--sha256", default="", help="Expected sha256 of the archive.")
    parser.add_argument("--member", required=True, help="Binary's file name in the archive.")
    parser.add_argument("--dest", required=True, type=Path, help="Where to install the binary.")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)

    expected = args.sha256.strip().lower()
    arg_name = f"{args.name.upper()}_SHA256"
    if not expected:
        fail(
            f"no checksum for {args.name} {args.version}: build with "
            f"--build-arg {arg_name}=<sha256 of {args.url.rsplit('/', 1)[-1]}> "
            "(see container/README.md, 'Checksums')"
        )
    if not HEX64.fullmatch(expected):
        fail(f"{arg_name} must be 64 hexadecimal digits, got {len(expected)} characters")
    if args.version not in args.url:
        fail(f"the URL does not name the pinned version {args.version}: {args.url}")

    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / args.url.rsplit("/", 1)[-1]
        actual = download(args.url, archive, args.timeout)
        if actual != expected:
            fail(
                f"checksum mismatch for {archive.name}: expected {expected}, got {actual} "
                "(wrong version/architecture pin, or a tampered download)"
            )
        extract_member(archive, args.member, args.dest)
    print(f"fetch-release: {args.name} {args.version} verified (sha256 {expected}) -> {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
