"""Default suppression: documented example keys, placeholders and already-redacted values.

These checks run on the raw candidate inside the scanner process, before it is hashed, so a
suppressed value never becomes a finding.
"""

from __future__ import annotations

import re

__all__ = ["DOCUMENTED_EXAMPLES", "suppression_reason"]

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


def suppression_reason(secret: str) -> str | None:
    """Why ``secret`` is not a real credential, or None if it may be one."""
    value = secret.strip().strip("'\"`")
    if value in DOCUMENTED_EXAMPLES:
        return "documented example key"
    if _EXAMPLE_TAIL.search(value) and len(value) >= 16:
        return "documented example key"
    if not value or _PLACEHOLDER.match(value):
        return "placeholder"
    if _REDACTED_MARKERS.search(value):
        return "already redacted"
    if len(set(value)) <= 2 and len(value) >= 6:
        return "placeholder"
    return None
