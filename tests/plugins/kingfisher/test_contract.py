"""Kingfisher passes the scanner contract: the real Kingfisher 2.14 CLI (kingfisher-bin wheel).

Kingfisher's AWS rule only reports an access key id paired with its secret key, so the contract
plants the other sample secrets plus a fake private key.
"""

from ticketscan.testing import SAMPLE_SECRETS, ScannerContract


class TestKingfisherContract(ScannerContract):
    scanner_name = "kingfisher"
    planted = {k: SAMPLE_SECRETS[k] for k in ("stripe-secret-key", "slack-token")}
