"""Format checks shared by scanners: checksums, structure and entropy of candidate secrets.

Each check is a pure function of the candidate string (never logged) and answers "could this
be a real credential of that kind?". Scanners use them to confirm regex candidates.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Callable

__all__ = [
    "CHECKS",
    "github_token_checksum_ok",
    "jwt_ok",
    "pem_private_key_ok",
    "shannon_entropy",
]

_GITHUB = re.compile(r"\b(gh[pousr])_([A-Za-z0-9]{30})([A-Za-z0-9]{6})\b")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(value: int, width: int = 6) -> str:
    out = ""
    while value:
        value, rem = divmod(value, 62)
        out = _B62[rem] + out
    return out.rjust(width, "0")


def github_token_checksum_ok(token: str) -> bool:
    """GitHub's classic tokens (``ghp_``, ``gho_``, ...) end in a base62 CRC32 of their body."""
    match = _GITHUB.fullmatch(token)
    if not match:
        return False
    return _base62(zlib.crc32(match.group(2).encode())) == match.group(3)


def shannon_entropy(value: str) -> float:
    """Shannon entropy in bits per character (0 for the empty string)."""
    if not value:
        return 0.0
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _b64url_json(segment: str) -> object:
    padded = segment + "=" * (-len(segment) % 4)
    raw = base64.urlsafe_b64decode(padded.encode("ascii"))
    return json.loads(raw.decode("utf-8"))


def jwt_ok(token: str) -> bool:
    """A JWT: three base64url segments, the first a JSON object with an ``alg``."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return False
    try:
        header = _b64url_json(parts[0])
        payload = _b64url_json(parts[1])
    except (ValueError, UnicodeError, binascii.Error):
        return False
    return isinstance(header, dict) and "alg" in header and isinstance(payload, dict)


_PEM = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----"
    r"(?P<body>.*?)"
    r"-----END \1-----",
    re.S,
)
_PEM_HEADER_LINE = re.compile(r"^[A-Za-z-]+:.*$", re.M)


def pem_private_key_ok(block: str, *, min_body: int = 64) -> bool:
    """A private key block: matching BEGIN/END labels and a base64 body of some length.

    Indentation, quote markers (``> ``), JSON-escaped newlines (``\\n``) and RFC 1421 headers
    (``Proc-Type:``) inside the block are tolerated; the body must decode as base64.
    """
    text = block.replace("\\r", "").replace("\\n", "\n")
    match = _PEM.search(text)
    if not match:
        return False
    body = _PEM_HEADER_LINE.sub("", match.group("body"))
    body = re.sub(r"(?m)^[ \t>]*", "", body)
    body = re.sub(r"[\s\"',+]", "", body) if '"' in body else re.sub(r"\s", "", body)
    if len(body) < min_body or not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", body):
        return False
    try:
        base64.b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, binascii.Error):
        return False
    return True


#: Named checks a rule can ask for (``check = "github-crc32"`` in a rule file).
CHECKS: dict[str, Callable[[str], bool]] = {
    "github-crc32": github_token_checksum_ok,
    "jwt": jwt_ok,
    "pem": pem_private_key_ok,
}
