"""ADF → text and wiki → text: line structure, link targets, source maps, never a crash.

The ADF property test generates documents from Atlassian's own ADF JSON Schema
(../shared/fixtures/jira/adf/adf-schema-v1-full.json): a small generator walks the schema's
definitions (``$ref``, ``anyOf``, ``allOf``, ``enum``, ``properties``/``required``,
``items``, ``minItems``/``maxItems``, ``pattern``), and every sample is validated with
jsonschema before it is converted.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from ticketscan_jira.text import adf_to_text, replace_in_adf, replace_in_wiki, wiki_to_text

WORDS = st.text(alphabet=string.ascii_letters + string.digits + " _-+/=:@.", min_size=1,
                max_size=12)


def _schema(fixtures_dir: Path) -> dict[str, Any]:
    return json.loads((fixtures_dir / "jira/adf/adf-schema-v1-full.json").read_text("utf-8"))


class _AdfStrategy:
    """Hypothesis strategies for values valid under a JSON schema (the subset ADF uses)."""

    def __init__(self, schema: dict[str, Any], max_depth: int = 4) -> None:
        self.schema = schema
        self.max_depth = max_depth

    def _ref(self, ref: str) -> dict[str, Any]:
        node: Any = self.schema
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node  # type: ignore[no-any-return]

    def _merge(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for part in parts:
            part = self._ref(part["$ref"]) if "$ref" in part else part
            for key, value in part.items():
                if key == "properties":
                    merged.setdefault("properties", {}).update(value)
                elif key == "required":
                    merged["required"] = sorted(set(merged.get("required", [])) | set(value))
                else:
                    merged[key] = value
        return merged

    def for_(self, node: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
        if "$ref" in node:
            return st.deferred(lambda: self.for_(self._ref(node["$ref"]), depth))
        if "allOf" in node:
            return self.for_(self._merge(node["allOf"]), depth)
        if "anyOf" in node:
            options = node["anyOf"]
            if depth >= self.max_depth:
                # prefer leaves when deep: text and atoms have no required content
                options = [o for o in options if self._is_leafy(o)] or options[:1]
            return st.one_of([self.for_(o, depth + 1) for o in options])
        if "enum" in node:
            return st.sampled_from(node["enum"])
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            return self._object(node, depth)
        if kind == "array":
            items = node.get("items", {})
            if isinstance(items, list):  # tuple form: one schema per position
                return st.tuples(*(self.for_(i, depth + 1) for i in items)).map(list)
            low = node.get("minItems", 0)
            high = node.get("maxItems", low + (2 if depth < self.max_depth else 0))
            high = max(low, min(high, low + 3))
            if not items:
                return st.just([])
            return st.lists(self.for_(items, depth + 1), min_size=low, max_size=high)
        if kind == "string":
            if "pattern" in node:
                return st.from_regex(node["pattern"], fullmatch=True)
            return WORDS if node.get("minLength", 0) else st.one_of(st.just(""), WORDS)
        if kind in ("number", "integer"):
            return st.integers(int(node.get("minimum", 0)), int(node.get("maximum", 1000)))
        if kind == "boolean":
            return st.booleans()
        return st.just(None)

    def _is_leafy(self, option: dict[str, Any]) -> bool:
        target = self._ref(option["$ref"]) if "$ref" in option else option
        if "allOf" in target:
            target = self._merge(target["allOf"])
        return "content" not in target.get("required", [])

    def _object(self, node: dict[str, Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
        props = node.get("properties", {})
        required = set(node.get("required", []))
        fixed = {k: self.for_(v, depth + 1) for k, v in props.items() if k in required}
        optional_names = [k for k in props if k not in required]
        optional = {k: self.for_(props[k], depth + 1) for k in optional_names}
        return st.fixed_dictionaries(fixed, optional=optional)


_CACHE: dict[str, Any] = {}


def _doc_strategy(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "strategy" not in _CACHE:
        _CACHE["strategy"] = _AdfStrategy(schema, max_depth=3).for_(
            {"$ref": "#/definitions/doc_node"})
    return _CACHE["strategy"]  # type: ignore[no-any-return]


def _validator(schema: dict[str, Any]) -> jsonschema.Draft4Validator:
    if "validator" not in _CACHE:
        _CACHE["validator"] = jsonschema.Draft4Validator(schema)
    return _CACHE["validator"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def adf_schema(fixtures_dir: Path) -> dict[str, Any]:
    return _schema(fixtures_dir)


def test_sample_document_keeps_one_line_per_block(fixtures_dir: Path) -> None:
    doc = json.loads((fixtures_dir / "jira/adf/jira-cli_adf-sample-document.json").read_text())
    text = adf_to_text(doc).text
    lines = text.split("\n")
    assert "H1" in lines and "H2" in lines
    assert "Table row 1 column 1" in lines
    assert 'func main() {' in lines  # code block lines stay lines
    assert "Link https://ankit.pl" in lines  # link target included


def test_hard_break_starts_a_new_line() -> None:
    doc = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [
            {"type": "text", "text": "user: admin"}, {"type": "hardBreak"},
            {"type": "text", "text": "password: hunter2hunter2"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "third"}]}]}
    assert adf_to_text(doc).text == "user: admin\npassword: hunter2hunter2\nthird"


def test_link_href_with_credentials_is_scanned() -> None:
    doc = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "the db", "marks": [
            {"type": "link", "attrs": {"href": "postgres://app:s3cretpw@db:5432/x"}}]}]}]}
    assert adf_to_text(doc).text == "the db postgres://app:s3cretpw@db:5432/x"


def test_replace_in_adf_masks_across_marks_and_keeps_them() -> None:
    doc = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "key AKIAQ7ZR"},
        {"type": "text", "text": "T4MWXB3LNPEK", "marks": [{"type": "strong"}]},
        {"type": "text", "text": " end"}]}]}
    mapped = adf_to_text(doc)
    start, end = mapped.slice(1, 5, 1, 25)
    assert mapped.text[start:end] == "AKIAQ7ZRT4MWXB3LNPEK"
    assert replace_in_adf(doc, mapped, start, end) == 20
    assert adf_to_text(doc).text == "key " + "*" * 20 + " end"
    assert doc["content"][0]["content"][1]["marks"] == [{"type": "strong"}]


def test_wiki_keeps_line_numbers_and_strips_safe_markup() -> None:
    source = ("h2. Login problem\n*Steps*: run {{deploy.sh}}\n"
              "see [the docs|https://u:pw@example.com/x]\n{code:bash}\n*not bold* x\n{code}\n"
              "||name||value||\n|key|sk_live_abc_def|\n-----BEGIN RSA PRIVATE KEY-----")
    mapped = wiki_to_text(source)
    lines = mapped.text.split("\n")
    assert len(lines) == len(source.split("\n"))
    assert lines[0] == "Login problem"
    assert lines[1] == "Steps: run deploy.sh"
    assert lines[2] == "see the docs https://u:pw@example.com/x"
    assert lines[4] == "*not bold* x"  # code content stays verbatim
    assert "sk_live_abc_def" in lines[7]
    assert lines[8] == "-----BEGIN RSA PRIVATE KEY-----"


def test_replace_in_wiki_edits_only_the_secret() -> None:
    source = "h3. creds\n|key|*AKIAQ7ZRT4MWXB3LNPEK*|"
    mapped = wiki_to_text(source)
    start = mapped.text.index("AKIA")
    out = replace_in_wiki(source, mapped, start, start + 20)
    assert out == "h3. creds\n|key|*" + "*" * 20 + "*|"


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # big reprs
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_adf_to_text_never_crashes_on_schema_valid_documents(
    data: st.DataObject, adf_schema: dict[str, Any]
) -> None:
    doc = data.draw(_doc_strategy(adf_schema))
    assume(_validator(adf_schema).is_valid(doc))
    mapped = adf_to_text(doc)
    assert len(mapped.origins) == len(mapped.text)
    for origin, char in zip(mapped.origins, mapped.text, strict=True):
        if isinstance(origin, tuple):
            path, key, index = origin
            node: Any = doc
            for step in path:
                node = node[step]
            assert node[key][index] == char  # the map points at the real source character
    if mapped.text:
        replace_in_adf(doc, mapped, 0, len(mapped.text))


def test_the_schema_strategy_produces_valid_documents(adf_schema: dict[str, Any]) -> None:
    """Guard against a generator that only makes invalid documents (all filtered away)."""
    strategy = _doc_strategy(adf_schema)
    validator = _validator(adf_schema)
    valid = 0
    types: set[str] = set()

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(strategy)
    def run(doc: Any) -> None:
        nonlocal valid
        if validator.is_valid(doc):
            valid += 1
            types.update(n.get("type") for n in doc.get("content", []) if isinstance(n, dict))

    run()
    assert valid >= 20
    assert len(types) >= 5


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["type", "text", "content", "attrs", "marks", "href"]),
                      children, max_size=4),
    max_leaves=30,
))
def test_adf_to_text_never_crashes_on_arbitrary_json(value: Any) -> None:
    mapped = adf_to_text(value)
    assert len(mapped.origins) == len(mapped.text)


@given(st.text(alphabet=string.printable + "{}[]|*", max_size=300))
def test_wiki_to_text_keeps_the_line_count_and_never_crashes(source: str) -> None:
    mapped = wiki_to_text(source)
    assert mapped.text.count("\n") == source.count("\n")
    for origin, char in zip(mapped.origins, mapped.text, strict=True):
        if isinstance(origin, int):
            assert source[origin] == char or (source[origin] == "|" and char == " ")
