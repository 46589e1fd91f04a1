"""Block Kit message for one ticket's findings, kept inside Slack's limits.

Limits (Slack API docs): at most 50 blocks per message; section text 3000 characters; header
text 150; at most 10 section fields of 2000 characters each; the top-level ``text`` fallback is
truncated by Slack after 40,000 characters (we keep it short). When a ticket has more findings
than fit, the message lists the most severe ones and summarizes the rest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ticketscan.models import Finding, Verified

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_FALLBACK_TEXT = 3000
#: blocks used by everything but the per-finding sections
_FIXED_BLOCKS = 6

_VERIFIED = {Verified.TRUE: "verified live", Verified.FALSE: "verified inactive",
             Verified.UNKNOWN: "not verified"}
_ICON = {"critical": ":red_circle:", "high": ":large_orange_circle:",
         "medium": ":large_yellow_circle:", "low": ":white_circle:"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mrkdwn_escape(text: str) -> str:
    """Slack needs only &, < and > escaped in mrkdwn text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_message(findings: Sequence[Finding], *, max_listed: int = 20) -> dict[str, Any]:
    """``{"text": ..., "blocks": [...]}`` for findings of one ticket."""
    ticket = findings[0].ticket
    ordered = sorted(findings, key=lambda f: (-f.severity.rank, f.type, f.location.path))
    counts = Counter(f.type for f in findings)
    engines = sorted({s for f in findings for s in f.scanners})
    verified = Counter(f.verified for f in findings)
    worst = ordered[0].severity.value
    title = f"{len(findings)} secret(s) found in {ticket.system} ticket {ticket.key}"
    key = mrkdwn_escape(ticket.key)
    link = f"<{ticket.url}|{key}>" if ticket.url else key
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, MAX_HEADER_TEXT)}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _cut(
                f"{_ICON.get(worst, '')} *{worst.upper()}* — ticket {link}"
                + (f" (project {mrkdwn_escape(ticket.project)})" if ticket.project else ""),
                MAX_SECTION_TEXT)},
        },
    ]
    type_fields = [
        {"type": "mrkdwn", "text": _cut(f"*{mrkdwn_escape(t)}*\n{n}", MAX_FIELD_TEXT)}
        for t, n in counts.most_common()
    ]
    if len(type_fields) > MAX_FIELDS:
        rest = sum(n for _, n in counts.most_common()[MAX_FIELDS - 1 :])
        others = {"type": "mrkdwn", "text": f"*{len(counts) - MAX_FIELDS + 1} other types*\n{rest}"}
        type_fields = [*type_fields[: MAX_FIELDS - 1], others]
    blocks.append({"type": "section", "fields": type_fields})
    blocks.append({"type": "divider"})
    room = min(max_listed, MAX_BLOCKS - _FIXED_BLOCKS)
    for f in ordered[:room]:
        loc = f.location
        text = (
            f"{_ICON.get(f.severity.value, '')} *{mrkdwn_escape(f.type)}*"
            f" `{mrkdwn_escape(f.redacted)}`"
            f"\n{mrkdwn_escape(loc.path)}, line {loc.line} · {_VERIFIED[f.verified]}"
            f" · {', '.join(f.scanners)}"
        )
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": _cut(text, MAX_SECTION_TEXT)}})
    hidden = len(ordered) - min(len(ordered), room)
    if hidden:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
            f"…and {hidden} more finding(s) not listed here; see the SARIF/JSON report."
        )}})
    summary = ", ".join(f"{n} {v}" for v, n in sorted(
        ((_VERIFIED[k], n) for k, n in verified.items())))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(
        f"engines: {', '.join(engines)} · {summary} · ticketscan", MAX_SECTION_TEXT)}]})
    assert len(blocks) <= MAX_BLOCKS
    fallback = _cut(
        f"{title}: " + ", ".join(f"{n} x {t}" for t, n in counts.most_common()), MAX_FALLBACK_TEXT
    )
    return {"text": fallback, "blocks": blocks}
