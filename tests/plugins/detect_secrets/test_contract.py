"""detect-secrets passes the scanner contract (real detect-secrets, in-process)."""

from ticketscan.testing import SAMPLE_SECRETS, ScannerContract


class TestDetectSecretsContract(ScannerContract):
    scanner_name = "detect-secrets"
    planted = {
        k: SAMPLE_SECRETS[k] for k in ("aws-access-key-id", "stripe-secret-key", "slack-token")
    }
