"""fastscan passes the scanner contract (real hyperscan + regex confirmation, in-process)."""

from ticketscan.testing import SAMPLE_SECRETS, ScannerContract


class TestFastscanContract(ScannerContract):
    scanner_name = "fastscan"
    planted = {k: SAMPLE_SECRETS[k] for k in ("aws-access-key-id", "stripe-secret-key", "slack-token")}


class TestFastscanPythonPathContract(ScannerContract):
    """The same contract on the pure-Python path (what runs where hyperscan is missing)."""

    scanner_name = "fastscan"
    planted = {k: SAMPLE_SECRETS[k] for k in ("aws-access-key-id", "stripe-secret-key", "slack-token")}
    settings = {"engine": "python"}
