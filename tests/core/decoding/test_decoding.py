"""Decoded views map findings back to the encoded original: document, line and column."""

from __future__ import annotations

import base64
import html
import json
import string
import urllib.parse
from pathlib import Path

from hypothesis import given, settings, strategies as st
from ticketscan.decoding import decoded_views, make_mapper
from ticketscan.models import RawFinding

TOKEN_ALPHABET = string.ascii_letters + string.digits


def _encode(kind: str, secret: str) -> str:
    """How the secret appears in the ticket, written in one of the ways views undo."""
    if kind == "html":
        return "".join(f"&#{ord(c)};" if i % 3 == 0 else c for i, c in enumerate(secret))
    if kind == "json":
        return json.dumps(secret).strip('"').replace("/", "\\/").replace("k", "\\u006b")
    if kind == "url":
        return urllib.parse.quote(secret, safe="")
    if kind == "b64":
        return base64.b64encode(f"secret={secret}".encode()).decode()
    raise AssertionError(kind)


def _find_and_map(text: str, secret: str) -> list[tuple[int, int, int, int]]:
    """Positions (line, col, end_line, end_col) of ``secret`` in every view, mapped back."""
    out = []
    for view in decoded_views(text):
        i = view.text.find(secret)
        if i < 0:
            continue
        j = i + len(secret)
        line = view.text.count("\n", 0, i) + 1
        col = i - (view.text.rfind("\n", 0, i) + 1) + 1
        end_line = view.text.count("\n", 0, j) + 1
        end_col = j - (view.text.rfind("\n", 0, j) + 1) + 1
        raw = RawFinding(document=f"d~{view.name}", secret=secret, rule_id="r", line=line,
                         column=col, end_line=end_line, end_column=end_col)
        mapped = make_mapper("d", text, view)(raw)
        assert mapped is not None and mapped.document == "d"
        out.append((mapped.line, mapped.column, mapped.end_line, mapped.end_column))
    return out


def _cut(text: str, pos: tuple[int, int, int, int]) -> str:
    line, col, end_line, end_col = pos
    lines = text.split("\n")
    if line == end_line:
        return lines[line - 1][col - 1 : end_col - 1]
    return "\n".join([lines[line - 1][col - 1 :], *lines[line : end_line - 1],
                      lines[end_line - 1][: end_col - 1]])


words = st.lists(st.text(alphabet=string.ascii_lowercase + ".,", min_size=1, max_size=9),
                 min_size=0, max_size=12).map(" ".join)


@settings(max_examples=80, deadline=None)
@given(
    secret=st.text(alphabet=TOKEN_ALPHABET + "/+@:", min_size=12, max_size=40),
    kind=st.sampled_from(["html", "json", "url"]),
    before=st.lists(words, max_size=5),
    prefix=words,
    suffix=words,
)
def test_mapped_position_points_at_the_encoded_original(
    secret: str, kind: str, before: list[str], prefix: str, suffix: str
) -> None:
    encoded = _encode(kind, secret)
    text = "\n".join([*before, f"{prefix} {encoded} {suffix}", "end"])
    positions = _find_and_map(text, secret)
    if encoded == secret:  # nothing to decode: no view needed
        return
    assert positions, f"no view decoded the {kind} form"
    for pos in positions:
        assert pos[0] == len(before) + 1
        assert _cut(text, pos) == encoded


@settings(max_examples=40, deadline=None)
@given(secret=st.text(alphabet=TOKEN_ALPHABET, min_size=16, max_size=40),
       before=st.lists(words, max_size=4))
def test_base64_blob_maps_back_into_the_blob(secret: str, before: list[str]) -> None:
    blob = _encode("b64", secret)
    text = "\n".join([*before, f"attachment: {blob}", "end"])
    positions = _find_and_map(text, secret)
    assert positions
    for pos in positions:
        cut = _cut(text, pos)
        assert pos[0] == len(before) + 1 and cut and cut in blob


@settings(max_examples=40, deadline=None)
@given(
    secret=st.text(alphabet=TOKEN_ALPHABET, min_size=24, max_size=40),
    split=st.integers(4, 20),
    depth=st.integers(1, 3),
)
def test_quoted_and_wrapped_secret_is_joined(secret: str, split: int, depth: int) -> None:
    marker = "> " * depth
    lead = "the new deploy key for staging is ready, it is"
    text = (f"Hi,\n{marker}{lead} {secret[:split]}\n{marker}{secret[split:]} and more\n"
            f"{marker}{'x' * 20} yes\n{marker}{'y' * 60} ok\n")
    positions = _find_and_map(text, secret)
    assert positions, "the quote+wrap view did not join the secret"
    for line, col, end_line, end_col in positions:
        assert (line, end_line) == (2, 3)
        assert text.split("\n")[1][col - 1 :] == secret[:split]
        assert end_col - 1 == len(marker) + len(secret) - split


def test_quoted_printable_soft_breaks() -> None:
    secret = "ghp_" + "Ab3" * 12
    text = ("Content-Transfer-Encoding: quoted-printable\n\n"
            f"here is the token we use in CI =3D {secret[:20]}=\n{secret[20:]} thanks\n")
    positions = _find_and_map(text, secret)
    assert positions and positions[0][:2] == (3, 36)


def test_views_only_when_decoding_changes_something() -> None:
    assert decoded_views("plain text\nwith nothing encoded\n") == []
    body = "\n".join(["QUJD" * 16] * 3)
    pem = f"-----BEGIN PRIVATE KEY-----\n{body}=\n-----END PRIVATE KEY-----\n"
    assert [v.name for v in decoded_views(pem) if v.name == "wrap"] == []


def test_views_feed_the_scan_and_point_at_the_original(tmp_path: Path) -> None:
    """End to end: a Zendesk-HTML-encoded token is found once, at its place in the ticket."""
    from ticketscan.config import load_config
    from ticketscan.documents import DocumentWriter
    from ticketscan.models import Part, TicketEvent, TicketRef
    from ticketscan.plugins import make_plugin_manager
    from ticketscan.steps import scan

    token = "sk_live_" + "4qTb9ZxLk2VwR7nPc3JmYd8H"
    encoded = html.escape(token[:10]) + "".join(f"&#{ord(c)};" for c in token[10:14]) + token[14:]
    text = (f"<p>Hello</p>\n<p>we use key=&quot;{encoded}&quot;</p>\n<p>a</p>\n<p>b</p>\n"
            f"<p>and key={token}</p>\n")
    event = TicketEvent(system="files", event_type="t", delivery_id="t",
                        ticket=TicketRef(system="files", key="T-1"))
    writer = DocumentWriter(tmp_path / "docs", event)
    writer.add_text(part=Part.COMMENT, path="T-1/comment/1", text=text)
    writer.close()
    config = load_config(env={})
    config.pipeline.decode = True
    outcome = scan(make_plugin_manager(), config, tmp_path / "docs", ["fastscan"])
    spots = sorted((f.location.line, f.location.column, f.location.end_column)
                   for f in outcome.findings)
    first = text.split("\n")[1].index(encoded) + 1
    second = text.split("\n")[4].index(token) + 1
    assert spots == [(2, first, first + len(encoded)), (5, second, second + len(token))]
    assert all(f.location.document for f in outcome.findings)
    assert token not in "".join(f.model_dump_json() for f in outcome.findings)


def test_views_blank_what_decoding_did_not_touch() -> None:
    """Far from the decoded place a view is blank (same lines and columns): no double scan."""
    far = "token=ghp_" + "Ab3" * 12
    text = "\n".join([far, *[f"filler line {i}" for i in range(20)], "key=&quot;x&quot;", ""])
    [view] = decoded_views(text, ["html"])
    full = decoded_views(text, ["html"], focus=False)[0]
    assert far in full.text
    assert view.full == full.text
    assert view.text.count("\n") == full.text.count("\n") == text.count("\n")
    assert far not in view.text and view.text.split("\n")[0] == ""
    kept = [line for line in view.text.split("\n") if line]
    assert kept and all(line in full.text.split("\n") for line in kept)
    assert 'key="x"' in view.text
