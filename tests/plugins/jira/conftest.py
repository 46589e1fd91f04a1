"""Fixtures for the Jira plugin tests: the local fake Jira (see tests/fakes/jira.py) in both
flavors, and JiraSource instances pointed at it through the real atlassian-python-api client."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parents[2]
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from fakes.jira import FakeJira  # noqa: E402
from ticketscan_jira.source import JiraSettings, JiraSource  # noqa: E402


@pytest.fixture(params=["cloud", "server"])
def fake_jira(request: pytest.FixtureRequest, fixtures_dir: Path) -> Iterator[FakeJira]:
    with FakeJira(fixtures_dir, flavor=request.param) as fake:
        yield fake


@pytest.fixture
def fake_cloud(fixtures_dir: Path) -> Iterator[FakeJira]:
    with FakeJira(fixtures_dir, flavor="cloud") as fake:
        yield fake


@pytest.fixture
def fake_server(fixtures_dir: Path) -> Iterator[FakeJira]:
    with FakeJira(fixtures_dir, flavor="server") as fake:
        yield fake


def settings_for(fake: FakeJira, **extra: Any) -> JiraSettings:
    values: dict[str, Any] = {"url": fake.url, "flavor": fake.flavor, "token": fake.token,
                              "backoff": 0.0, "max_backoff": 0.05}
    if fake.flavor == "cloud":
        values["email"] = fake.email
    values.update(extra)
    return JiraSettings.model_validate(values)


@pytest.fixture
def make_source() -> Callable[..., JiraSource]:
    def make(fake: FakeJira, **extra: Any) -> JiraSource:
        return JiraSource(settings_for(fake, **extra))

    return make
