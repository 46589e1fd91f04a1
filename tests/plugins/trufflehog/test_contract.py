"""trufflehog passes the scanner contract, run against the STAND-IN executable (conftest.py).

No genuine trufflehog binary can be installed here; the stand-in replays real trufflehog
output samples, so the planted secrets are the samples' own (a public demo-site URL login).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ticketscan.config import Config
from ticketscan.testing import ScannerContract

URI = "https://admin:admin@the-internet.herokuapp.com/basic_auth"


class TestTrufflehogContract(ScannerContract):
    scanner_name = "trufflehog"
    planted = {"url-credentials": URI}
    binary: Path

    @pytest.fixture(autouse=True)
    def _stand_in(self, stand_in: Path) -> None:
        self.binary = stand_in

    def _config(self) -> Config:
        config = super()._config()
        config.data["scanners"]["trufflehog"] = {"binary": str(self.binary)}
        return config
