"""detect-secrets as a ticketscan scanner, in-process, all plugins and default filters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from pydantic import Field
from ticketscan import ComponentSettings, RawFinding, ScanBatch, Scanner
from ticketscan.checks import github_token_checksum_ok
from ticketscan.taxonomy import DETECT_SECRETS_PLUGINS

__all__ = ["DetectSecretsScanner", "github_token_checksum_ok"]

#: detect-secrets secret types -> ticketscan canonical types (core's table, one source).
RULE_TYPES: dict[str, str] = DETECT_SECRETS_PLUGINS

#: How much a detect-secrets finding of each type is worth before consensus.
_CONFIDENCE = {
    "Base64 High Entropy String": 0.3,
    "Hex High Entropy String": 0.3,
    "Secret Keyword": 0.45,
}

_GITHUB = re.compile(r"\b(gh[pousr])_([A-Za-z0-9]{30})([A-Za-z0-9]{6})\b")


class DetectSecretsScanner(Scanner):
    """Yelp's detect-secrets with every plugin and default filter, in-process."""

    name = "detect-secrets"
    description = "Yelp detect-secrets, in-process (all plugins and filters)"
    rule_types: ClassVar[dict[str, str]] = RULE_TYPES
    default_confidence: ClassVar[float] = 0.6

    class Settings(ComponentSettings):
        exclude_plugins: list[str] = Field(
            default_factory=lambda: ["IPPublicDetector"],
            description="detect-secrets plugin class names to turn off (an IP is no secret).",
        )
        base64_limit: float = Field(default=4.5, description="Base64 entropy limit.")
        hex_limit: float = Field(default=3.0, description="Hex entropy limit.")

    def _plugins_config(self) -> list[dict[str, Any]]:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

        settings = self.settings
        assert isinstance(settings, DetectSecretsScanner.Settings)
        plugins: list[dict[str, Any]] = []
        mapping: dict[str, type] = get_mapping_from_secret_type_to_class()
        for cls in mapping.values():
            if cls.__name__ in settings.exclude_plugins:
                continue
            entry: dict[str, Any] = {"name": cls.__name__}
            if cls.__name__ == "Base64HighEntropyString":
                entry["limit"] = settings.base64_limit
            elif cls.__name__ == "HexHighEntropyString":
                entry["limit"] = settings.hex_limit
            plugins.append(entry)
        return sorted(plugins, key=lambda p: p["name"])

    def _scan(self, batch: ScanBatch) -> Iterable[RawFinding]:
        from detect_secrets.core.secrets_collection import SecretsCollection
        from detect_secrets.settings import default_settings, transient_settings

        with default_settings(), transient_settings({"plugins_used": self._plugins_config()}):
            for item in batch.inputs:
                collection = SecretsCollection()
                collection.scan_file(str(item.path))
                secrets = [s for found in collection.data.values() for s in found]
                if not secrets:
                    continue
                lines = item.read_text().splitlines()
                for secret in sorted(secrets, key=lambda s: (s.line_number, s.type)):
                    yield from self._findings(item.id, secret, lines)

    def _findings(self, doc: str, secret: Any, lines: list[str]) -> Iterator[RawFinding]:
        line_no = int(secret.line_number)
        line = lines[line_no - 1] if 0 < line_no <= len(lines) else ""
        value = secret.secret_value
        if secret.type == "GitHub Token":
            # upstream bug #858: the secret is reported as "ghp"; re-extract and check
            for match in _GITHUB.finditer(line):
                token = match.group(0)
                if github_token_checksum_ok(token):
                    yield self._raw(doc, token, secret.type, line_no, match.start() + 1)
            return
        if not value:
            return
        column = line.find(value) + 1 if value in line else 1
        yield self._raw(doc, value, secret.type, line_no, column)

    @staticmethod
    def _raw(doc: str, value: str, rule: str, line: int, column: int) -> RawFinding:
        return RawFinding(
            document=doc,
            secret=value,
            rule_id=rule,
            line=line,
            column=column,
            confidence=_CONFIDENCE.get(rule, 0.7),
        )
