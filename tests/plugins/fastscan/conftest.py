"""fastscan test fixtures; the fake-secret helpers live in fastscan_fakes.py beside this file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fastscan_fakes import fake_secrets


@pytest.fixture
def secrets() -> dict[str, str]:
    return fake_secrets()
