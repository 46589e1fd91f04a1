"""Models: redaction rules, committed JSON Schemas, the public API surface."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import ticketscan
from hypothesis import given, strategies as st
from ticketscan.models import Finding, redact
from ticketscan.schema import schemas
from ticketscan.testing import sample_findings


@given(st.text(min_size=0, max_size=200))
def test_redaction_shows_at_most_four_characters_and_none_when_short(secret: str) -> None:
    shown = redact(secret).split("…", 1)[0]
    assert len(shown) <= 4
    if len(secret) < 12:
        assert shown == ""
    else:
        assert secret.startswith(shown)


def test_a_finding_refuses_a_redacted_form_showing_too_much() -> None:
    data = sample_findings()[0].model_dump()
    data["redacted"] = "AKIA2OGY…"
    with pytest.raises(ValueError, match="at most 4 characters"):
        Finding.model_validate(data)


def test_committed_schemas_match_the_models(repo_root: Path) -> None:
    folder = repo_root / "docs" / "schema"
    for name, schema in schemas().items():
        committed = folder / f"{name}.schema.json"
        assert committed.is_file(), f"run: ticketscan schema --out docs/schema ({name} missing)"
        assert json.loads(committed.read_text()) == schema, (
            f"{committed.name} drifted from the model; "
            "regenerate: ticketscan schema --out docs/schema"
        )


def test_every_exported_name_resolves() -> None:
    for name in ticketscan.__all__:
        assert getattr(ticketscan, name) is not None, name


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        ticketscan.NoSuchThing  # noqa: B018
