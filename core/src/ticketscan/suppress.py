"""Suppression: defaults, the allowlist and the baseline.

* Defaults: documented example keys, placeholders and already-redacted values.
* Allowlist (``[suppress]`` section and/or an allowlist file): by secret sha256, by regex on
  the secret, by canonical type, by ticket project.
* Baseline (``ticketscan baseline``): fingerprints recorded earlier are not reported again.

The defaults, the regexes and the sha256 list run on the raw candidate inside the scanner
process, before it is hashed, so a suppressed value never becomes a finding. Type and
project are applied to findings (scan, merge); the baseline too.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .models import Finding, sha256_text

__all__ = [
    "DOCUMENTED_EXAMPLES",
    "AllowEntry",
    "Allowlist",
    "SuppressSettings",
    "Suppression",
    "load_allowlist",
    "load_suppression",
    "read_baseline",
    "suppress_settings",
    "suppression_reason",
    "write_baseline",
]

#: Keys that vendors publish in their documentation; never real.
DOCUMENTED_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AKIAI44QH8DHBEXAMPLE",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "ASIAIOSFODNN7EXAMPLE",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "xoxb-not-a-real-token-this-will-not-work",
    }
)

_PLACEHOLDER = re.compile(
    "(?i)^(?:"
    + "|".join(
        [
            r"[<{\[(]\s*[\w .:-]*\s*[>}\])]",  # <your-key>, {token}, [REDACTED]
            r"\$\{?[\w.:-]+\}?",  # ${ENV_VAR}, $VAR
            r"\{\{[^}]*\}\}",  # {{ template }}
            r"%\(?\w+\)?s?%?",  # %(name)s, %VAR%
            r"(?:x{3,}|\*{3,}|\.{3,}|\#{3,}|-{3,}|_{3,}|•{3,}|…)",  # xxx, ***, ...
            r"(?:your|my|the|insert|enter|replace|put|add)[_ -].*",
            r"(?:change_?me|changeit|placeholder|example|sample|dummy|redacted|removed|hidden"
            r"|secret|password|passwd|token|api[_-]?key|none|null|nil|undefined|test|todo|tbd)",
        ]
    )
    + ")$"
)
_REDACTED_MARKERS = re.compile(r"(?i)(\*{4,}|x{6,}|redacted|•{3,}|\[hidden\]|…\[\d+ chars\])")
_EXAMPLE_TAIL = re.compile(r"(?i)example(?:key)?$")


#: The payload segment of jwt.io's sample token ({"sub":"1234567890","name":"John Doe",...}),
#: pasted in countless docs and tickets whatever its header or signature.
_JWT_IO_EXAMPLE = "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
#: Keys meant to be shipped to browsers and apps: not credentials (Stripe publishable keys).
_PUBLIC_BY_DESIGN = re.compile(r"^pk_(?:live|test)_[0-9A-Za-z]{10,}$")


def suppression_reason(secret: str) -> str | None:
    """Why ``secret`` is not a real credential, or None if it may be one."""
    value = secret.strip().strip("'\"`")
    if value in DOCUMENTED_EXAMPLES:
        return "documented example key"
    if _JWT_IO_EXAMPLE in value:
        return "documented example key (jwt.io's sample token)"
    if _PUBLIC_BY_DESIGN.match(value):
        return "public by design (publishable key)"
    if _EXAMPLE_TAIL.search(value) and len(value) >= 16:
        return "documented example key"
    if not value or _PLACEHOLDER.match(value):
        return "placeholder"
    if _REDACTED_MARKERS.search(value):
        return "already redacted"
    if len(set(value)) <= 2 and len(value) >= 6:
        return "placeholder"
    return None


# ---------------------------------------------------------------------------------------------
# The allowlist and the baseline, configured in the ``[suppress]`` section


class AllowEntry(BaseModel):
    """One allowlist entry: exactly one of sha256, regex, type, project; a reason for audit."""

    model_config = ConfigDict(extra="forbid")

    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    regex: str | None = None
    type: str | None = None
    project: str | None = None
    reason: str | None = None


class SuppressSettings(BaseModel):
    """The ``[suppress]`` section of ``ticketscan.toml``.

    ::

        [suppress]
        defaults = true                  # drop documented examples, placeholders, redacted
        allowlist = "allowlist.toml"     # a file of [[allow]] entries (relative to this file)
        baseline = "baseline.json"       # report only findings not in this baseline
        sha256 = ["<sha256 of a secret>"]
        regex = ["^AKIA[A-Z2-7]{12}TEST$"]
        types = ["generic-high-entropy"]
        projects = ["SANDBOX"]
    """

    model_config = ConfigDict(extra="forbid")

    defaults: bool = Field(default=True, description="Drop examples, placeholders, redacted.")
    allowlist: str | None = Field(default=None, description="Allowlist file ([[allow]] entries).")
    baseline: str | None = Field(default=None, description="Baseline file (ticketscan baseline).")
    sha256: list[str] = Field(default_factory=list)
    regex: list[str] = Field(default_factory=list)
    types: list[str] = Field(default_factory=list)
    projects: list[str] = Field(default_factory=list)


@dataclass
class Allowlist:
    """Compiled allowlist. ``secret_reason`` runs in the scanner process on the clear secret."""

    defaults: bool = True
    sha256: frozenset[str] = frozenset()
    regexes: tuple[re.Pattern[str], ...] = ()
    types: frozenset[str] = frozenset()
    projects: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.sha256 or self.regexes or self.types or self.projects)

    def secret_reason(self, secret: str) -> str | None:
        """Why a secret (in clear, before hashing) is dropped, or None to keep it."""
        if self.defaults:
            why = suppression_reason(secret)
            if why is not None:
                return why
        for pattern in self.regexes:
            if pattern.search(secret):
                return "allowlist: regex"
        if self.sha256 and sha256_text(secret) in self.sha256:
            return "allowlist: sha256"
        return None

    def type_allowed(self, type_name: str) -> bool:
        return type_name in self.types

    def finding_reason(self, finding: Finding) -> str | None:
        """Why a finding is dropped (sha256, type or ticket project), or None to keep it."""
        if finding.secret_sha256 in self.sha256:
            return "allowlist: sha256"
        if finding.type in self.types:
            return "allowlist: type"
        project = finding.ticket.project
        if project is not None and project in self.projects:
            return "allowlist: project"
        return None

    def filter(self, findings: Iterable[Finding]) -> tuple[list[Finding], int]:
        kept, dropped = [], 0
        for finding in findings:
            if self.finding_reason(finding) is None:
                kept.append(finding)
            else:
                dropped += 1
        return kept, dropped


def _where(config_path: Path | None, value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute() and config_path is not None:
        path = config_path.parent / path
    return path


def suppress_settings(data: Mapping[str, Any], config_path: Path | None = None) -> SuppressSettings:
    """Validate the raw ``[suppress]`` section; errors name the file and key."""
    from .errors import ConfigError

    raw = data.get("suppress", {})
    try:
        return SuppressSettings.model_validate(raw if isinstance(raw, dict) else {})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(
            err["msg"], file=str(config_path) if config_path else None, section="suppress",
            key=".".join(str(p) for p in err["loc"]) or None,
        ) from None


def load_allowlist(settings: SuppressSettings, config_path: Path | None = None) -> Allowlist:
    """The compiled allowlist: inline lists plus the entries of the allowlist file."""
    from .errors import ConfigError

    sha = {s.lower() for s in settings.sha256}
    regexes = list(settings.regex)
    types = set(settings.types)
    projects = set(settings.projects)
    where = str(config_path) if config_path else None
    if settings.allowlist:
        path = _where(config_path, settings.allowlist)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read allowlist {path}: {exc.strerror}", file=where,
                              section="suppress", key="allowlist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"allowlist {path} is not valid TOML: {exc}", file=where,
                              section="suppress", key="allowlist") from None
        entries = data.get("allow", [])
        if not isinstance(entries, list):
            raise ConfigError(f"allowlist {path}: 'allow' must be an array of tables",
                              file=where, section="suppress", key="allowlist")
        for i, item in enumerate(entries):
            try:
                entry = AllowEntry.model_validate(item)
            except ValidationError as exc:
                err = exc.errors()[0]
                raise ConfigError(
                    f"allowlist {path}: entry {i + 1}: {err['msg']}", file=where,
                    section="suppress", key="allowlist",
                ) from None
            given = [k for k in ("sha256", "regex", "type", "project") if getattr(entry, k)]
            if len(given) != 1:
                raise ConfigError(
                    f"allowlist {path}: entry {i + 1} must set exactly one of "
                    "sha256, regex, type, project", file=where, section="suppress",
                    key="allowlist",
                )
            if entry.sha256:
                sha.add(entry.sha256.lower())
            if entry.regex:
                regexes.append(entry.regex)
            if entry.type:
                types.add(entry.type)
            if entry.project:
                projects.add(entry.project)
    compiled = []
    for pattern in regexes:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            # the pattern is the user's own and is no secret; the error names it
            raise ConfigError(f"bad allowlist regex {pattern!r}: {exc}", file=where,
                              section="suppress", key="regex") from None
    return Allowlist(
        defaults=settings.defaults, sha256=frozenset(sha), regexes=tuple(compiled),
        types=frozenset(types), projects=frozenset(projects),
    )


# --------------------------------------------------------------------------------- baseline

BASELINE_SCHEMA = "ticketscan-baseline/1"


def write_baseline(path: Path, findings: Iterable[Finding], *, update: bool = False) -> int:
    """Record the findings' fingerprints (no secret, no hash of one) into ``path``.

    With ``update``, fingerprints already in the file are kept. Returns how many it holds.
    """
    entries: dict[str, dict[str, str]] = {}
    if update and path.is_file():
        entries = dict(read_baseline(path))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for finding in findings:
        entries.setdefault(
            finding.fingerprint,
            {
                "type": finding.type,
                "ticket": f"{finding.ticket.system}:{finding.ticket.key}",
                "path": finding.location.path,
                "recorded_at": now,
            },
        )
    data = {"schema": BASELINE_SCHEMA, "fingerprints": dict(sorted(entries.items()))}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return len(entries)


def read_baseline(path: Path) -> dict[str, dict[str, str]]:
    """fingerprint -> what was recorded; a malformed file is an InputError naming it."""
    from .errors import InputError

    if not path.is_file():
        raise InputError(f"baseline {path} does not exist",
                         hint="create it with: ticketscan baseline FINDINGS.jsonl --out FILE")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"baseline {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA:
        raise InputError(f"baseline {path} is not a ticketscan baseline ({BASELINE_SCHEMA})")
    prints = data.get("fingerprints")
    if not isinstance(prints, dict) or not all(isinstance(k, str) for k in prints):
        raise InputError(f"baseline {path}: 'fingerprints' must be an object")
    return {k: v if isinstance(v, dict) else {} for k, v in prints.items()}


@dataclass
class Suppression:
    """Everything ``[suppress]`` configures, loaded once per step."""

    allowlist: Allowlist = field(default_factory=Allowlist)
    baseline: frozenset[str] = frozenset()

    def apply(self, findings: Iterable[Finding]) -> tuple[list[Finding], int, int]:
        """(kept findings, dropped by the allowlist, dropped by the baseline)."""
        kept, allowed = self.allowlist.filter(findings)
        fresh = [f for f in kept if f.fingerprint not in self.baseline]
        return fresh, allowed, len(kept) - len(fresh)


def load_suppression(data: Mapping[str, Any], config_path: Path | None = None) -> Suppression:
    settings = suppress_settings(data, config_path)
    baseline: frozenset[str] = frozenset()
    if settings.baseline:
        baseline = frozenset(read_baseline(_where(config_path, settings.baseline)))
    return Suppression(load_allowlist(settings, config_path), baseline)
