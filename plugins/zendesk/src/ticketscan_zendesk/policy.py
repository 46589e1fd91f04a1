"""Which remediation actions a finding gets: the first matching policy decides.

A policy matches on the finding (canonical type globs, minimum severity, the ticket's
``project``) and on the Zendesk ticket as re-read at action time (brand, group, tags). Its
``actions`` say what to do; each action still needs its own switch in the sink's settings
(``redact_comments = true`` ...) to change anything: otherwise it is only planned (dry run).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from ticketscan.models import Finding, Severity

__all__ = ["ACTIONS", "DEFAULT_POLICIES", "Action", "Policy", "choose_policy"]

Action = Literal["redact", "make_private", "internal_note", "notify_reporter"]
ACTIONS: tuple[Action, ...] = ("redact", "make_private", "internal_note", "notify_reporter")

#: Types for which a person should look before anything is removed: often false positives.
GENERIC_TYPES = ["generic-*", "other", "basic-auth", "url-credentials", "jwt"]


class Policy(BaseModel):
    """One rule: which findings (and tickets) it covers and what to do with them."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", description="Shown in the publish report.")
    types: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Canonical type globs, e.g. ['private-key', 'aws-*'].",
    )
    min_severity: Severity | None = Field(default=None, description="Only this severity or more.")
    projects: list[str] | None = Field(
        default=None, description="Globs on the finding's ticket project (unset = any)."
    )
    brand_ids: list[int] | None = Field(default=None, description="Brand ids (unset = any).")
    group_ids: list[int] | None = Field(default=None, description="Group ids (unset = any).")
    tags: list[str] | None = Field(
        default=None, description="The ticket has at least one of these tags (unset = any)."
    )
    actions: list[Action] = Field(
        default_factory=list, description="What to do; [] = nothing (report only)."
    )

    def matches(self, finding: Finding, ticket: Mapping[str, Any]) -> bool:
        if not any(fnmatch.fnmatchcase(finding.type, glob) for glob in self.types):
            return False
        if self.min_severity is not None and finding.severity.rank < self.min_severity.rank:
            return False
        if self.projects is not None and not any(
            fnmatch.fnmatchcase(finding.ticket.project or "", glob) for glob in self.projects
        ):
            return False
        if self.brand_ids is not None and ticket.get("brand_id") not in self.brand_ids:
            return False
        if self.group_ids is not None and ticket.get("group_id") not in self.group_ids:
            return False
        if self.tags is not None:
            have = ticket.get("tags") or []
            if not (isinstance(have, list) and set(self.tags) & {str(t) for t in have}):
                return False
        return True


DEFAULT_POLICIES: list[Policy] = [
    Policy(name="generic: note only", types=GENERIC_TYPES, actions=["internal_note"]),
    Policy(name="default: redact and note", types=["*"], actions=["redact", "internal_note"]),
]


def choose_policy(
    policies: Sequence[Policy], finding: Finding, ticket: Mapping[str, Any]
) -> Policy | None:
    """The first policy that matches, or None (then nothing is done)."""
    for policy in policies:
        if policy.matches(finding, ticket):
            return policy
    return None
