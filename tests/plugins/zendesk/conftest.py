"""Fixtures for the Zendesk plugin tests: a fake Zendesk (tests/fakes/zendesk.py) on a free port.

FAKE, and why: no Zendesk server can run here. The fake answers with the response shapes of
../shared/fixtures/zendesk; the plugin reaches it through the real zenpy client, pointed at
127.0.0.1 by zenpy's own ZENPY_FORCE_NETLOC / ZENPY_FORCE_SCHEME (set from the source's ``url``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ticketscan_zendesk.source import ZendeskSource

from tests.fakes.zendesk import FakeZendesk

EMAIL = "agent@example.com"
TOKEN = "fake-api-token-0123456789"


@pytest.fixture
def fake(fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeZendesk]:
    with FakeZendesk(email=EMAIL, token=TOKEN, shapes_dir=fixtures_dir / "zendesk") as server:
        # the plugin sets these from `url`; monkeypatch restores the process env afterwards
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


class Sleeps(list[float]):
    """Stands in for time.sleep in the retry adapter: records waits, waits nothing."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def make_source(fake: FakeZendesk):
    """A ZendeskSource configured for the fake; returns (source, recorded sleeps)."""

    def make(**overrides: Any) -> tuple[ZendeskSource, Sleeps]:
        settings: dict[str, Any] = {
            "url": fake.url,
            "email": EMAIL,
            "token": TOKEN,
            "backoff_base": 0.01,
            "timeout": 5,
        }
        settings.update(overrides)
        source = ZendeskSource(ZendeskSource.Settings.model_validate(settings))
        sleeps = Sleeps()
        source.client()
        assert source.adapter is not None
        source.adapter.sleep = sleeps
        return source, sleeps

    return make
