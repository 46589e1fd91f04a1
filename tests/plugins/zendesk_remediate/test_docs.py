"""docs/zendesk.md remediation section: its config example is valid, every setting listed."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from ticketscan_zendesk.policy import choose_policy
from ticketscan_zendesk.remediate import ZendeskRemediateSink


def section(repo_root: Path) -> str:
    text = (repo_root / "docs" / "zendesk.md").read_text(encoding="utf-8")
    return text.split("## 6. Remediation", 1)[1]


def test_the_documented_config_is_valid(repo_root: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", section(repo_root), flags=re.S)
    example = next(b for b in blocks if "[sinks.zendesk-remediate]" in b)
    data = tomllib.loads(example)["sinks"]["zendesk-remediate"]
    data["token"] = "resolved-by-config"  # { env = ... } is resolved by core's config loader
    settings = ZendeskRemediateSink.Settings.model_validate(data)
    assert settings.policies[0].name == "VIP tickets: report only"
    from ticketscan.testing import sample_findings

    finding = sample_findings()[0]  # an AWS key
    chosen = choose_policy(settings.policies, finding, {"tags": []})
    assert chosen is not None and "redact" in chosen.actions


def test_every_setting_is_in_the_reference(repo_root: Path) -> None:
    text = section(repo_root)
    for name in ZendeskRemediateSink.Settings.model_fields:
        assert f"`{name}`" in text, f"{name} is not documented in docs/zendesk.md"
