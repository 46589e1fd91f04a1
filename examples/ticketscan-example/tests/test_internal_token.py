"""The example plugin's tests: the ticketscan scanner contract plus its own behaviour."""

from __future__ import annotations

import json
import subprocess
import sys

from ticketscan.testing import ScannerContract
from ticketscan_example.scanner import check_digit

BODY = "Zq8Lm2KpX4nRt7WcY1sBa9DfG3hJk5P"
TOKEN = "acme_live_" + BODY + check_digit(BODY)


def test_plugin_shows_up_in_ticketscan_plugins() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ticketscan", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    plugins = {p["key"]: p for p in json.loads(out.stdout)["plugins"]}
    assert plugins["example"]["distribution"] == "ticketscan-example"
    assert plugins["example"]["components"][0]["name"] == "internal-token"
    assert plugins["example"]["error"] is None


class TestInternalTokenContract(ScannerContract):
    scanner_name = "internal-token"
    planted = {"internal-token": TOKEN}


class TestCheckDigit(ScannerContract):
    """A token with a wrong check digit is not reported (and a custom prefix works)."""

    scanner_name = "internal-token"
    settings = {"prefix": "corp_"}
    planted = {"corp-token": "corp_" + BODY + check_digit(BODY)}
    clean_text = "corp_" + BODY + ("0" if check_digit(BODY) != "0" else "1") + "\n"
