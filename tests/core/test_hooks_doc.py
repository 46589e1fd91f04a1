"""docs/hooks.md documents every hook: a section, its signature and an example."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from ticketscan import hookspecs


def _hook_names() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "ticketscan_spec")
    ]


def test_there_are_hooks() -> None:
    assert {
        "register_sources",
        "register_scanners",
        "register_sinks",
        "register_transports",
    } <= set(_hook_names())


def test_every_hook_has_a_section_with_signature_and_example(repo_root: Path) -> None:
    text = (repo_root / "docs" / "hooks.md").read_text()
    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S))
    for name in _hook_names():
        assert name in sections, f"docs/hooks.md has no section for {name}"
        body = sections[name]
        assert f"def {name}(register" in body, f"{name}: signature missing"
        assert "@hookimpl" in body, f"{name}: example missing"
        assert "plugins/" in body or "examples/" in body, f"{name}: link to a real plugin missing"
