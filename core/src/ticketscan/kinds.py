"""The kinds of component a plugin can register (import-light: no pydantic)."""

from __future__ import annotations

from typing import Literal

__all__ = ["KINDS", "Kind"]

Kind = Literal["source", "scanner", "sink", "transport", "state_store"]
KINDS: tuple[Kind, ...] = ("source", "scanner", "sink", "transport", "state_store")
