"""Rule files: fastscan's own TOML format, a superset of gitleaks' config format.

A rule file is a list of ``[[rules]]`` tables. The keys gitleaks knows (``id``, ``regex``,
``secretGroup``, ``keywords``, ``entropy``, ``path``, ``[[rules.allowlists]]``, a global
``[allowlist]`` / ``[[allowlists]]``, ``[extend]``) mean what they mean in gitleaks, so a gitleaks
user's config loads unchanged. fastscan adds ``type`` (canonical type), ``confidence``, ``check``
(a named format check, see :data:`ticketscan.checks.CHECKS` and :data:`EXTRA_CHECKS`),
``prefilter`` (a cheaper regex that matches on the same line whenever ``regex`` does) and
``window`` (how many characters before a prefilter hit the full match may start; multi-line rules).

Regexes are RE2 syntax (as in Go). Each rule is compiled for Python ``re`` (after translating
the few RE2-only constructs) and, when available, for google-re2; a rule that compiles in neither
is reported in :attr:`RuleSet.problems` with the reason, never silently dropped.
"""

from __future__ import annotations

import re
import tomllib
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ticketscan.checks import CHECKS, shannon_entropy
from ticketscan.taxonomy import CANONICAL_TYPES, canonical_type

__all__ = [
    "Allowlist",
    "Rule",
    "RuleProblem",
    "RuleSet",
    "default_rules",
    "load_rules",
    "translate_go_regex",
]

try:  # google-re2: RE2 itself, the engine gitleaks' Go regexes were written for
    import re2 as _re2
except ImportError:  # pragma: no cover - exercised by the fallback test via monkeypatch
    _re2 = None

#: Default confidence by canonical type severity when a rule does not say.
_DEFAULT_CONFIDENCE = 0.7
#: Characters before a hit that a gitleaks rule's match may start (they may span lines).
_GITLEAKS_WINDOW = 1024
_PEM_WINDOW = 24_000


# ---------------------------------------------------------------------------------------------
# Go RE2 -> Python re


_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


class RegexSyntaxError(ValueError):
    pass


def translate_go_regex(pattern: str) -> str:
    """Rewrite an RE2 (Go) regex into Python ``re`` syntax with the same meaning.

    Handles flags set in the middle of a group (``a(?i)b`` -> ``a(?i:b)``), ``\\z``, POSIX
    classes (``[[:alnum:]]``) and a literal ``[`` inside a class. Raises ``RegexSyntaxError``
    for constructs Python cannot express (``\\p{...}`` classes, ``\\C``).
    """
    out: list[str] = []
    # per open group (index 0: top level): the flag groups opened inside it, still open
    stack: list[list[str]] = [[]]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt == "z":
                out.append(r"\Z")
            elif nxt in ("p", "P"):
                raise RegexSyntaxError("Unicode classes (\\p{...}) are not supported by Python re")
            elif nxt == "C":
                raise RegexSyntaxError("\\C (any byte) is not supported by Python re")
            elif nxt == "Q":
                end = pattern.find(r"\E", i + 2)
                end = n if end < 0 else end
                out.append(re.escape(pattern[i + 2 : end]))
                i = end + 2
                continue
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            j = i + 1
            cls = ["["]
            if j < n and pattern[j] == "^":
                cls.append("^")
                j += 1
            if j < n and pattern[j] == "]":
                cls.append(r"\]")
                j += 1
            while j < n and pattern[j] != "]":
                if pattern.startswith("[:", j):
                    end = pattern.find(":]", j)
                    name = pattern[j + 2 : end] if end > 0 else ""
                    if name not in _POSIX:
                        raise RegexSyntaxError(f"POSIX class [:{name}:] not supported")
                    cls.append(_POSIX[name])
                    j = end + 2
                    continue
                if pattern[j] == "\\":
                    if pattern[j + 1 : j + 2] in ("p", "P"):
                        raise RegexSyntaxError(
                            "Unicode classes (\\p{...}) are not supported by Python re"
                        )
                    cls.append(pattern[j : j + 2])
                    j += 2
                    continue
                if pattern[j] in "[&~|":
                    cls.append("\\" + pattern[j])
                    j += 1
                    continue
                cls.append(pattern[j])
                j += 1
            if j >= n:
                raise RegexSyntaxError("missing closing ] of a character class")
            cls.append("]")
            out.append("".join(cls))
            i = j + 1
            continue
        if c == "(":
            m = re.match(r"\(\?([imsU-]+)\)", pattern[i:])
            if m:
                flags = m.group(1)
                if "U" in flags:
                    raise RegexSyntaxError("the U (ungreedy) flag is not supported by Python re")
                if not out and "-" not in flags:
                    out.append(m.group(0))  # global flags at the very start: same in Python
                else:
                    out.append(f"(?{flags}:")
                    stack[-1].append(flags)
                i += len(m.group(0))
                continue
            m = re.match(r"\(\?P?<([A-Za-z_]\w*)>", pattern[i:])
            if m:
                out.append(f"(?P<{m.group(1)}>")
                i += len(m.group(0))
            else:
                out.append("(")
                i += 1
            stack.append([])
            continue
        if c == ")":
            opened = stack.pop() if len(stack) > 1 else []
            out.append(")" * len(opened) + ")")
            i += 1
            continue
        if c == "|" and stack[-1]:
            # RE2 keeps the flags for the following alternatives of the same group
            opened = stack[-1]
            out.append(")" * len(opened) + "|" + "".join(f"(?{f}:" for f in opened))
            i += 1
            continue
        out.append(c)
        i += 1
    out.append(")" * len(stack[0]))
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Model


@dataclass
class Allowlist:
    """gitleaks allowlist semantics: a finding matching it is dropped."""

    description: str = ""
    condition: str = "OR"
    regex_target: str = "secret"  # secret | match | line
    regexes: list[re.Pattern[str]] = field(default_factory=list)
    stopwords: list[str] = field(default_factory=list)
    paths: list[re.Pattern[str]] = field(default_factory=list)
    target_rules: set[str] = field(default_factory=set)

    def allows(self, secret: str, match: str, line: str, path: str) -> bool:
        checks: list[bool] = []
        if self.regexes:
            target = {"secret": secret, "match": match, "line": line}.get(self.regex_target, secret)
            checks.append(any(p.search(target) for p in self.regexes))
        if self.stopwords:
            low = secret.lower()
            checks.append(any(w in low for w in self.stopwords))
        if self.paths:
            checks.append(any(p.search(path) for p in self.paths))
        if not checks:
            return False
        return all(checks) if self.condition.upper() == "AND" else any(checks)


@dataclass
class Rule:
    id: str
    regex: str
    type: str
    description: str = ""
    secret_group: int | str | None = None
    keywords: tuple[str, ...] = ()
    entropy: float | None = None
    confidence: float = _DEFAULT_CONFIDENCE
    check: str | None = None
    path: re.Pattern[str] | None = None
    prefilter: str | None = None
    window: int = 0
    origin: str = "ticketscan"
    allowlists: list[Allowlist] = field(default_factory=list)
    #: compiled forms (filled by RuleSet.compile)
    py: re.Pattern[bytes] | None = None
    rx2: Any = None
    check_fn: Callable[[str], bool] | None = None

    @property
    def generic(self) -> bool:
        return self.origin == "gitleaks" and self.id.startswith("generic")


@dataclass(frozen=True)
class RuleProblem:
    rule_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.reason}"


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    allowlists: list[Allowlist] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def extend(self, other: RuleSet, disabled: Iterable[str] = ()) -> None:
        off = set(disabled)
        known = {r.id: i for i, r in enumerate(self.rules)}
        for rule in other.rules:
            if rule.id in off:
                continue
            if rule.id in known:  # a later file overrides a rule of the same id
                self.rules[known[rule.id]] = rule
            else:
                known[rule.id] = len(self.rules)
                self.rules.append(rule)
        self.allowlists.extend(other.allowlists)
        self.problems.extend(other.problems)
        self.sources.extend(other.sources)

    def compile(self) -> None:
        """Compile every rule for Python ``re`` and google-re2; drop and report failures."""
        kept: list[Rule] = []
        for rule in self.rules:
            reason = _compile_rule(rule)
            if reason is None:
                kept.append(rule)
            else:
                self.problems.append(RuleProblem(rule.id, reason))
        self.rules = kept


# extra checks only fastscan needs (the shared ones live in ticketscan.checks)


def _basic_b64_ok(value: str) -> bool:
    import base64
    import binascii

    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        return False
    user, sep, password = text.partition(":")
    return bool(sep) and bool(user) and len(password) >= 3 and text.isprintable()


_WORDY = re.compile(r"[a-z]+|[A-Z][a-z]+|[A-Z]+")


def _password_shape_ok(value: str) -> bool:
    """Looks like a password: 6+ chars, 2+ character classes, not a path/URL/number/word."""
    if len(value) < 6 or len(value) > 128:
        return False
    if value[0] in "/~\\$%{<[(" or "://" in value or value.startswith(("http", "www.")):
        return False
    if re.fullmatch(r"[\d.:/-]+", value) or re.fullmatch(r"[\w.+-]+@[\w-]+\.[\w.]+", value):
        return False
    if re.fullmatch(r"[A-Za-z]+[:.,;!?]?", value):
        return False  # a word, maybe with its punctuation ("Authorization:")
    if _WORDY.fullmatch(value) or re.fullmatch(r"[a-z]+(?:[_.-][a-z]+)+", value):
        return False  # a plain word or identifier (password_reset, expired, Required)
    classes = sum(
        bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]")
    )
    return classes >= 2


def _token_shape_ok(value: str) -> bool:
    """A generic API key/token: has letters and digits and is not a bare hex hash or UUID."""
    if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-fA-F]{32}", value):
        return False  # git SHA, sha256 digests and md5s are ids far more often than keys
    if re.fullmatch(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", value):
        return False
    return bool(re.search(r"\d", value)) and bool(re.search(r"[A-Za-z]", value))


EXTRA_CHECKS: dict[str, Callable[[str], bool]] = {
    "basic-b64": _basic_b64_ok,
    "password": _password_shape_ok,
    "token": _token_shape_ok,
}


def _all_checks() -> dict[str, Callable[[str], bool]]:
    return {**CHECKS, **EXTRA_CHECKS}


def _compile_rule(rule: Rule) -> str | None:
    if rule.check:
        rule.check_fn = _all_checks().get(rule.check)
        if rule.check_fn is None:
            return f"unknown check {rule.check!r} (known: {', '.join(sorted(_all_checks()))})"
    py_error = rx2_error = None
    try:
        translated = translate_go_regex(rule.regex)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rule.py = re.compile(translated.encode("utf-8"), re.M)
    except (RegexSyntaxError, re.error, OverflowError, RecursionError) as exc:
        py_error = f"Python re cannot compile it: {exc}"
        rule.py = None
    if _re2 is not None and (rule.origin == "gitleaks" or rule.py is None):
        try:
            options = _re2.Options()
            options.log_errors = False
            rule.rx2 = _re2.compile(b"(?m)" + rule.regex.encode("utf-8"), options)
        except Exception as exc:  # re2.error and friends
            rx2_error = f"RE2 cannot compile it: {exc}"
            rule.rx2 = None
    if rule.py is None and rule.rx2 is None:
        return "; ".join(e for e in (py_error, rx2_error) if e) or "cannot compile"
    if isinstance(rule.secret_group, int) and rule.secret_group > 0:
        groups = rule.py.groups if rule.py is not None else rule.rx2.groups
        if rule.secret_group > groups:
            return f"secretGroup {rule.secret_group} but the regex has {groups} groups"
    return None


# ---------------------------------------------------------------------------------------------
# Loading


def _allowlist(data: dict[str, Any], where: str, problems: list[RuleProblem]) -> Allowlist:
    al = Allowlist(
        description=str(data.get("description", "")),
        condition=str(data.get("condition", "OR")).upper(),
        regex_target=str(data.get("regexTarget", "secret")).lower(),
        stopwords=[str(s).lower() for s in data.get("stopwords", [])],
        target_rules=set(data.get("targetRules", [])),
    )
    for key, dest in (("regexes", al.regexes), ("paths", al.paths)):
        for pattern in data.get(key, []):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    dest.append(re.compile(translate_go_regex(str(pattern))))
            except (RegexSyntaxError, re.error) as exc:
                problems.append(RuleProblem(where, f"allowlist {key} entry skipped: {exc}"))
    return al


def _rule_type(rule_id: str, given: str | None) -> str:
    if given:
        if given not in CANONICAL_TYPES:
            raise ValueError(f"unknown canonical type {given!r}")
        return given
    return canonical_type(rule_id) or "other"


def _parse(data: dict[str, Any], source: str, base: Path | None) -> RuleSet:
    out = RuleSet(sources=[source])
    problems = out.problems
    extend = data.get("extend") or {}
    if extend:
        disabled = extend.get("disabledRules", [])
        if extend.get("useDefault"):
            out.extend(default_rules(compiled=False), disabled)
        if extend.get("path"):
            target = Path(str(extend["path"]))
            if base is not None and not target.is_absolute():
                target = base / target
            out.extend(load_rules(target, compiled=False), disabled)
    for key in ("allowlist",):
        if isinstance(data.get(key), dict):
            out.allowlists.append(_allowlist(data[key], "[allowlist]", problems))
    for entry in data.get("allowlists", []) or []:
        out.allowlists.append(_allowlist(entry, "[[allowlists]]", problems))
    own = RuleSet()
    for index, raw in enumerate(data.get("rules", []) or []):
        rule_id = str(raw.get("id") or f"rule-{index + 1}")
        if raw.get("required"):
            problems.append(RuleProblem(rule_id, "composite rules ([[rules.required]]) are not "
                                        "supported; the rule runs without its required parts"))
        if not raw.get("regex"):
            problems.append(RuleProblem(rule_id, "has no regex (a path-only rule flags files "
                                        "by name; ticket text has none to match)"))
            continue
        own_keys = ("type", "confidence", "check")
        origin = "ticketscan" if any(k in raw for k in own_keys) else "gitleaks"
        try:
            kind = _rule_type(rule_id, raw.get("type"))
        except ValueError as exc:
            problems.append(RuleProblem(rule_id, str(exc)))
            continue
        regex = str(raw["regex"])
        window = int(raw.get("window", 0))
        if not window and origin == "gitleaks":
            window = _PEM_WINDOW if "BEGIN" in regex and "PRIVATE" in regex else _GITLEAKS_WINDOW
        path = None
        if raw.get("path"):
            try:
                path = re.compile(translate_go_regex(str(raw["path"])))
            except (RegexSyntaxError, re.error) as exc:
                problems.append(RuleProblem(rule_id, f"path regex cannot compile: {exc}"))
                continue
        rule = Rule(
            id=rule_id,
            regex=regex,
            type=kind,
            description=str(raw.get("description", "")),
            secret_group=raw.get("secretGroup"),
            keywords=tuple(str(k).lower() for k in raw.get("keywords", []) or []),
            entropy=float(raw["entropy"]) if raw.get("entropy") else None,
            confidence=float(raw.get("confidence", _DEFAULT_CONFIDENCE)),
            check=raw.get("check"),
            path=path,
            prefilter=raw.get("prefilter"),
            window=window,
            origin=origin,
        )
        lists = list(raw.get("allowlists", []) or [])
        if isinstance(raw.get("allowlist"), dict):
            lists.append(raw["allowlist"])
        rule.allowlists = [_allowlist(a, rule_id, problems) for a in lists]
        own.rules.append(rule)
    out.extend(own)
    return out


def load_rules(source: str | Path, *, compiled: bool = True) -> RuleSet:
    """Load a rule file (fastscan or gitleaks TOML). Problems are collected, not raised."""
    path = Path(source)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError) as exc:
        raise ValueError(f"cannot read rule file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"rule file {path} is not valid TOML: {exc}") from exc
    rules = _parse(data, str(path), path.parent)
    if compiled:
        rules.compile()
    return rules


def default_rules(*, compiled: bool = True) -> RuleSet:
    """fastscan's own rules, written for what people paste into tickets."""
    text = (resources.files("ticketscan_fastscan") / "data" / "default.toml").read_text(
        encoding="utf-8"
    )
    rules = _parse(tomllib.loads(text), "ticketscan_fastscan:data/default.toml", None)
    if compiled:
        rules.compile()
    return rules


def entropy_ok(rule: Rule, secret: str) -> bool:
    return rule.entropy is None or shannon_entropy(secret) > rule.entropy
