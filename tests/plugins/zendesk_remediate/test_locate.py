"""Pure helpers of the remediation: spans, candidates, <redact> marking (hypothesis included)."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings, strategies as st
from ticketscan.models import Severity, sha256_text
from ticketscan_zendesk.html import html_to_text
from ticketscan_zendesk.locate import (
    REDACTED_CHAR,
    Span,
    candidate,
    is_redacted,
    mark_html,
    span_offsets,
    unmark,
)
from ticketscan_zendesk.policy import DEFAULT_POLICIES, Policy, choose_policy
from ticketscan_zendesk.remediate import ZendeskRemediateSink

SECRET_CHARS = st.characters(
    codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), exclude_characters="<>"
)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


def position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


@given(before=TEXT, secret=st.text(SECRET_CHARS, min_size=1, max_size=40), after=TEXT)
def test_candidate_cuts_what_a_scanner_located(before: str, secret: str, after: str) -> None:
    text = before + secret + after
    start, end = len(before), len(before) + len(secret)
    (line, column), (end_line, end_column) = position(text, start), position(text, end)
    cut = candidate(text, Span(line, column, end_line, end_column))
    assert cut == secret
    assert sha256_text(cut) == sha256_text(secret)


@given(text=TEXT, line=st.integers(-3, 12), column=st.integers(-3, 90),
       end_line=st.integers(-3, 12), end_column=st.integers(-3, 90))
def test_span_offsets_never_raise_and_stay_inside(
    text: str, line: int, column: int, end_line: int, end_column: int
) -> None:
    offsets = span_offsets(text, Span(line, column, end_line, end_column))
    if offsets is not None:
        start, end = offsets
        assert 0 <= start < end <= len(text)


def test_a_span_past_the_end_of_its_line_is_refused() -> None:
    assert candidate("abc\ndef", Span(1, 2, 1, 9)) is None
    assert candidate("abc\ndef", Span(3, 1, 3, 2)) is None
    assert candidate("abc\ndef", Span(1, 2, 2, 3)) == "bc\nde"


def test_redacted_text_is_recognised() -> None:
    assert is_redacted(REDACTED_CHAR * 5)
    assert not is_redacted("")
    assert not is_redacted("AKIA" + REDACTED_CHAR)


HTML_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


def entity_spelling(secret: str, data: st.DataObject) -> str:
    out = []
    for char in secret:
        form = data.draw(st.sampled_from(["literal", "dec", "hex"]))
        if form == "dec":
            out.append(f"&#{ord(char)};")
        elif form == "hex":
            out.append(f"&#x{ord(char):x};")
        else:
            out.append(html.escape(char, quote=False))
    return "".join(out)


@settings(max_examples=200)
@given(
    before=HTML_TEXT,
    after=HTML_TEXT,
    secret=st.text(SECRET_CHARS, min_size=4, max_size=30),
    data=st.data(),
)
def test_mark_html_wraps_the_secret_however_it_is_spelled(
    before: str, after: str, secret: str, data: st.DataObject
) -> None:
    source = (
        f'<div class="zd-comment"><p>{html.escape(before, quote=False)}</p>'
        f"<pre>{entity_spelling(secret, data)}</pre><p>{html.escape(after, quote=False)}</p></div>"
    )
    marked = mark_html(source, [secret])
    assert marked.in_text >= 1
    assert unmark(marked.html) == source  # Zendesk checks it is the comment's html_body
    wrapped = re.findall(r"<redact>(.*?)</redact>", marked.html, flags=re.S)
    assert secret in [html.unescape(w) for w in wrapped]
    # what Zendesk shows afterwards no longer holds the secret
    after_redaction = re.sub(
        r"<redact>(.*?)</redact>",
        lambda m: REDACTED_CHAR * len(html.unescape(m.group(1))),
        marked.html,
        flags=re.S,
    )
    assert secret not in html_to_text(after_redaction)


@given(source=st.text(max_size=200), secret=st.text(SECRET_CHARS, min_size=1, max_size=12))
def test_mark_html_never_raises_and_round_trips(source: str, secret: str) -> None:
    marked = mark_html(source, [secret])
    if marked.count == 0:
        assert marked.html == source
    else:
        assert unmark(marked.html) == source or " redact" in source


def test_secret_inside_an_attribute_marks_the_tag() -> None:
    source = (
        '<p><a href="https://x.test/?k=SECRETVALUE1">link</a> and <img src="SECRETVALUE1"/></p>'
    )
    marked = mark_html(source, ["SECRETVALUE1"])
    assert marked.in_tags == 2 and marked.in_text == 0
    assert '<a href="https://x.test/?k=SECRETVALUE1" redact>' in marked.html
    assert '<img src="SECRETVALUE1" redact/>' in marked.html
    assert unmark(marked.html) == source


def finding(type_: str, severity: str = "critical"):  # type: ignore[no-untyped-def]
    from ticketscan.testing import sample_findings

    f = sample_findings()[0].model_copy()
    f.type = type_
    f.severity = Severity(severity)
    return f


@pytest.mark.parametrize(
    ("type_", "actions"),
    [
        ("private-key", ["redact", "internal_note"]),
        ("aws-access-key-id", ["redact", "internal_note"]),
        ("generic-password", ["internal_note"]),
        ("generic-high-entropy", ["internal_note"]),
    ],
)
def test_default_policies(type_: str, actions: list[str]) -> None:
    policy = choose_policy(DEFAULT_POLICIES, finding(type_), {})
    assert policy is not None and policy.actions == actions


def test_policy_matches_severity_brand_group_and_project() -> None:
    policy = Policy(types=["aws-*"], min_severity="high", brand_ids=[7], group_ids=[3],
                    projects=["SEC"], actions=["redact"])
    ticket = {"brand_id": 7, "group_id": 3}
    assert policy.matches(finding("aws-access-key-id"), ticket)
    assert not policy.matches(finding("aws-access-key-id", "medium"), ticket)
    assert not policy.matches(finding("aws-access-key-id"), {"brand_id": 8, "group_id": 3})
    assert not policy.matches(finding("github-pat"), ticket)


def test_settings_reject_unknown_actions_and_bad_templates() -> None:
    with pytest.raises(ValueError):
        ZendeskRemediateSink.Settings.model_validate(
            {"policies": [{"types": ["*"], "actions": ["delete_ticket"]}]}
        )
    with pytest.raises(ValueError, match="placeholder"):
        ZendeskRemediateSink.Settings.model_validate({"reporter_message": "rotate $secret"})
    with pytest.raises(ValueError):
        ZendeskRemediateSink.Settings.model_validate({"redact_coments": True})
    defaults = ZendeskRemediateSink.Settings()
    switches = ("redact_comments", "redact_attachments", "make_private", "internal_note",
                "notify_reporter")
    assert not any(getattr(defaults, s) for s in switches)  # dry run by default
