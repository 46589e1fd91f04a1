"""A scanner for a company-internal token format: prefix + 31 alphanumerics + a check digit."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from typing import ClassVar

from pydantic import Field
from ticketscan import ComponentSettings, RawFinding, ScanBatch, Scanner

ALPHABET = string.digits + string.ascii_letters


def check_digit(body: str) -> str:
    """The token's last character: a weighted sum of the body modulo 62."""
    total = sum((i + 1) * ALPHABET.index(ch) for i, ch in enumerate(body))
    return ALPHABET[total % 62]


class InternalTokenScanner(Scanner):
    """Finds ``<prefix><31 alphanumerics><check digit>`` tokens."""

    name = "internal-token"
    description = "company-internal tokens (example plugin)"
    rule_types: ClassVar[dict[str, str]] = {"internal-token": "generic-api-key"}
    default_confidence: ClassVar[float] = 0.9

    class Settings(ComponentSettings):
        prefix: str = Field(default="acme_live_", min_length=2, description="Token prefix.")
        check_digit: bool = Field(default=True, description="Require a valid check digit.")

    def _scan(self, batch: ScanBatch) -> Iterable[RawFinding]:
        settings = self.settings
        assert isinstance(settings, InternalTokenScanner.Settings)
        pattern = re.compile(re.escape(settings.prefix) + r"([0-9A-Za-z]{31})([0-9A-Za-z])\b")
        for item in batch.inputs:
            for line_no, line in enumerate(item.read_text().splitlines(), 1):
                for match in pattern.finditer(line):
                    body, digit = match.group(1), match.group(2)
                    if settings.check_digit and check_digit(body) != digit:
                        continue
                    yield RawFinding(
                        document=item.id,
                        secret=match.group(0),
                        rule_id="internal-token",
                        line=line_no,
                        column=match.start() + 1,
                    )
