"""fastscan passes the scanner contract (real hyperscan + regex confirmation, in-process)."""

from ticketscan.testing import SAMPLE_SECRETS, ScannerContract

KINDS = ("aws-access-key-id", "stripe-secret-key", "slack-token")


class TestFastscanContract(ScannerContract):
    scanner_name = "fastscan"
    planted = {k: SAMPLE_SECRETS[k] for k in KINDS}


class TestFastscanPythonPathContract(ScannerContract):
    """The same contract on the pure-Python path (what runs where hyperscan is missing)."""

    scanner_name = "fastscan"
    planted = {k: SAMPLE_SECRETS[k] for k in KINDS}
    settings = {"engine": "python"}
