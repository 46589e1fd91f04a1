"""Zendesk html_body → text: entities decoded, line structure kept, never a crash."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings, strategies as st
from ticketscan_zendesk.html import html_to_text


def test_zendesk_comment_markup_becomes_its_text() -> None:
    recorded = '<div class="zd-comment" dir="auto"><p dir="auto">Some comment</p></div>'
    assert html_to_text(recorded) == "Some comment"


def test_entities_are_decoded() -> None:
    text = html_to_text("<p>key=AKIA&#x32;OGY&#66;AH6STMJ4HJQ &amp; &lt;b&gt; &quot;x&quot;</p>")
    assert text == 'key=AKIA2OGYBAH6STMJ4HJQ & <b> "x"'


def test_blocks_and_breaks_keep_line_structure() -> None:
    source = "<p>one<br>two</p><p>three</p><ul><li>a</li><li>b</li></ul><div>c<br><br>d</div>"
    assert html_to_text(source).splitlines() == ["one", "two", "three", "a", "b", "c", "", "d"]


def test_pre_keeps_whitespace() -> None:
    assert html_to_text("<pre>[default]\n  aws_key = X\n</pre>") == "[default]\n  aws_key = X"


def test_link_targets_that_differ_from_the_text_are_kept() -> None:
    text = html_to_text('<p>see <a href="postgres://app:s3cr3t@db:5432/x">the db</a></p>')
    assert text == "see the db <postgres://app:s3cr3t@db:5432/x>"
    same = html_to_text('<a href="https://example.com">https://example.com</a>')
    assert same == "https://example.com"


def test_table_cells_are_separated() -> None:
    assert html_to_text("<table><tr><td>user</td><td>pw</td></tr></table>") == "user\tpw"


words = st.text(alphabet=st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=12)
tags = st.sampled_from(
    [
        "p",
        "div",
        "b",
        "i",
        "span",
        "li",
        "ul",
        "pre",
        "code",
        "td",
        "tr",
        "table",
        "h1",
        "blockquote",
        "a",
        "strong",
        "br",
        "img",
        "x-custom",
    ]
)


@st.composite
def html_docs(draw: st.DrawFn) -> tuple[str, list[str]]:
    parts: list[str] = []
    kept: list[str] = []
    for _ in range(draw(st.integers(1, 15))):
        choice = draw(st.integers(0, 4))
        if choice == 0:
            word = draw(words)
            kept.append(word)
            encode = draw(st.booleans())
            parts.append("".join(f"&#{ord(c)};" for c in word) if encode else html.escape(word))
        elif choice == 1:
            parts.append(f"<{draw(tags)}>")
        elif choice == 2:
            parts.append(f"</{draw(tags)}>")
        elif choice == 3:
            parts.append(draw(st.sampled_from([" ", "\n", "\t", "&nbsp;", "<br/>", "<!-- c -->"])))
        else:
            # stray characters that do not open a tag (an unclosed "<p" would swallow the
            # following words into attributes, in a browser too)
            parts.append(draw(st.sampled_from(["<", ">", "&", "&amp", "</", "&#x;", '"', "<!"])))
        parts.append(" ")
    return "".join(parts), kept


@settings(max_examples=400, deadline=None)
@given(doc=html_docs())
def test_text_content_survives_arbitrary_markup(doc: tuple[str, list[str]]) -> None:
    source, kept = doc
    text = html_to_text(source)
    flat = re.sub(r"\s+", " ", text)
    for word in kept:
        assert word in flat


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_never_crashes_on_arbitrary_strings(source: str) -> None:
    assert isinstance(html_to_text(source), str)
