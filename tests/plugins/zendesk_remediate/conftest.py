"""Fixtures for the zendesk-remediate sink tests: a fake Zendesk on a free port.

FAKE, and why: no Zendesk server can run here; see tests/fakes/zendesk.py and
remediate_helpers.py beside this file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.zendesk import FakeZendesk
from tests.plugins.zendesk_remediate.remediate_helpers import EMAIL, TOKEN


@pytest.fixture
def fake(fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeZendesk]:
    with FakeZendesk(email=EMAIL, token=TOKEN, shapes_dir=fixtures_dir / "zendesk") as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog
