"""JSON Schemas of the models that cross step boundaries (committed under docs/schema/)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .models import Document, Finding, Manifest, PublishReport, TicketEvent

__all__ = ["MODELS", "schemas"]

MODELS: dict[str, type[BaseModel]] = {
    "TicketEvent": TicketEvent,
    "Document": Document,
    "Manifest": Manifest,
    "Finding": Finding,
    "PublishReport": PublishReport,
}


def schemas() -> dict[str, dict[str, Any]]:
    return {name: model.model_json_schema(mode="serialization") for name, model in MODELS.items()}
