"""fastscan's default rules on positive and negative examples, and gitleaks rule files."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from fastscan_fakes import fake_secrets, github_token
from ticketscan_fastscan.engine import Engine
from ticketscan_fastscan.rules import default_rules, load_rules, translate_go_regex

S = fake_secrets()
RNG = random.Random(11)
AZURE = "Zq8vLm2KpX4nRt7WcY1sBa9D" * 3 + "Qz8vLm2KpX4nRt7WcY1sBa9D"[:14] + "=="

# (text, rule id that must report, the secret it must report)
POSITIVE = [
    (f"export TOKEN={S['github-token']}", "github-token", S["github-token"]),
    (f"key id {S['aws-access-key-id']} for the bucket", "aws-access-key-id",
     S["aws-access-key-id"]),
    ('aws_secret_access_key = "k9Fj2LmQ8rT4vX7zB1nC5dG3hJ6pW0sYaEuIoKq2"', "aws-secret-access-key",
     "k9Fj2LmQ8rT4vX7zB1nC5dG3hJ6pW0sYaEuIoKq2"),
    (f"STRIPE={S['stripe-secret-key']}", "stripe-secret-key", S["stripe-secret-key"]),
    (f"GL_TOKEN='{S['gitlab-pat']}'", "gitlab-pat", S["gitlab-pat"]),
    (f"slack: {S['slack-token']}", "slack-token", S["slack-token"]),
    (f"SENDGRID_API_KEY={S['sendgrid-api-key']}", "sendgrid-api-key", S["sendgrid-api-key"]),
    (f"//registry.npmjs.org/:_authToken={S['npm-token']}", "npm-token", S["npm-token"]),
    (f"ANTHROPIC_API_KEY={S['anthropic-api-key']}", "anthropic-api-key", S["anthropic-api-key"]),
    (f"access_token: {S['jwt']}", "jwt", S["jwt"]),
    ("DATABASE_URL=postgres://app:Tr1ckyPa55-word@db.internal:5432/app", "database-url",
     "Tr1ckyPa55-word"),
    ("mongodb+srv://svc:Q7mYx2Vb9LpR@cluster0.ab12c.mongodb.net/db", "database-url",
     "Q7mYx2Vb9LpR"),
    ("Server=tcp:db.example.net,1433;Database=crm;User ID=sa;Password=Winter2024!x;",
     "odbc-password", "Winter2024!x"),
    ("git clone https://deploy:h7Gq2Lm9Xv4@git.example.com/org/repo.git", "url-credentials",
     "h7Gq2Lm9Xv4"),
    ("curl -H 'Authorization: Bearer 9fK2mQ7xL4vR8tY1wZ3nB6cD' https://api.example.com",
     "authorization-bearer", "9fK2mQ7xL4vR8tY1wZ3nB6cD"),
    ("curl -u admin:S3cr3t-Pass https://jenkins.example.com", "curl-user", "S3cr3t-Pass"),
    ("Authorization: Basic YWxpY2U6V29uZGVybGFuZDIwMjQh", "authorization-basic",
     "YWxpY2U6V29uZGVybGFuZDIwMjQh"),
    ("Hi, my password is Hunter2024! please reset it", "password-prose", "Hunter2024!"),
    ("pwd: Blue.Falcon.77", "password-prose", "Blue.Falcon.77"),
    ("Das Passwort ist Sommer2024#neu.", "password-prose", "Sommer2024#neu"),
    ('  "password": "kestrel-marble-65-Granite",', "password-assignment",
     "kestrel-marble-65-Granite"),
    (f"AccountKey={AZURE};EndpointSuffix=core.windows.net", "azure-storage-account-key", AZURE),
    ("-----BEGIN RSA PRIVATE KEY-----\n"
     + "MIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt\n" * 4
     + "-----END RSA PRIVATE KEY-----", "private-key", None),
]

NEGATIVE = [
    "the access key AKIAIOSFODNN7EXAMPLE from the AWS docs",
    "token ghp_" + "a" * 36,  # no valid checksum
    "my password is incorrect",
    "password: ${DB_PASSWORD}",
    "password=<your-password>",
    "commit 42f3e818303d37a79aba97cbe2f9c6f6e6420b59 broke the build",
    "request id 0d2adab9-db4e-45c9-b265-99dc796e9901",
    "pk_live_51YAC0w31wpy2Rww8ea37YqY2sLFNvDDrQ1qiztU is our publishable key",
    "see https://github.com/org/repo/pull/3108 for details",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHcWv3HN8IuI9jVykbtVp0CUJFbzZ5GsnC1mAkaTyWko me@host",
    "-----BEGIN CERTIFICATE-----\nMIIBczCCARmgAwIBAgIPSNwOrCNTxG/UijwpfwhxMAoGCCqGSM49\n"
    "-----END CERTIFICATE-----",
    "token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4g"
    "RG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "cd /home/alice && pwd: /home/alice",
]


@pytest.fixture(scope="module", params=["hyperscan", "python"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return Engine(default_rules(), use_hyperscan=request.param == "hyperscan")


@pytest.mark.parametrize(("text", "rule_id", "secret"), POSITIVE, ids=[p[1] for p in POSITIVE])
def test_positive(engine: Engine, text: str, rule_id: str, secret: str | None) -> None:
    found = engine.scan_bytes(f"first line\n{text}\nlast line\n".encode())
    hits = [f for f in found if f.rule.id == rule_id]
    assert hits, f"{rule_id} missed its example"
    if secret is not None:
        assert secret in {f.secret for f in hits}
    assert hits[0].line == 2


@pytest.mark.parametrize("text", NEGATIVE)
def test_negative(engine: Engine, text: str) -> None:
    from ticketscan.suppress import suppression_reason

    found = [f for f in engine.scan_bytes(text.encode()) if suppression_reason(f.secret) is None]
    assert found == [], [f.rule.id for f in found]


def test_github_checksum_is_checked(engine: Engine) -> None:
    good = github_token(RNG)
    bad = good[:-1] + ("A" if good[-1] != "A" else "B")
    found = {f.secret for f in engine.scan_bytes(f"{good}\n{bad}\n".encode())}
    assert good in found and bad not in found


def test_every_default_rule_has_a_canonical_type() -> None:
    from ticketscan.taxonomy import CANONICAL_TYPES

    rules = default_rules()
    assert not rules.problems, [str(p) for p in rules.problems]
    assert all(r.type in CANONICAL_TYPES for r in rules.rules)


def test_gitleaks_default_config_loads(shared_dir: Path) -> None:
    """Every rule of gitleaks' own config compiles, or is reported with its reason."""
    import tomllib

    path = shared_dir / "fixtures" / "scanners" / "gitleaks" / "gitleaks.toml"
    data = tomllib.loads(path.read_text())
    rules = load_rules(path)
    reported = {p.rule_id for p in rules.problems}
    loaded = {r.id for r in rules.rules}
    for raw in data["rules"]:
        assert raw["id"] in loaded or raw["id"] in reported, raw["id"]
    assert all(p.reason for p in rules.problems)
    assert len(loaded) >= 200
    engine = Engine(rules)
    assert engine.mode == "hyperscan"
    # gitleaks semantics: keyword gate, secret group, entropy, rule and global allowlists
    text = (f"github token {github_token(RNG)}\n"
            "aws AKIAIOSFODNN7EXAMPLE\n"  # allowlisted by the rule's .+EXAMPLE$ allowlist
            "stripe sk_live_" + "4qTb9ZxLk2VwR7nPc3JmYd8H\n")
    ids = {f.rule.id for f in engine.scan_bytes(text.encode())}
    assert "github-pat" in ids and "stripe-access-token" in ids
    assert "aws-access-token" not in ids


def test_custom_gitleaks_rules_and_allowlists(tmp_path: Path) -> None:
    config = tmp_path / "custom.toml"
    config.write_text(r"""
title = "custom"
[extend]
useDefault = true
disabledRules = ["jwt"]

[[rules]]
id = "acme-internal-token"
description = "ACME internal tokens"
regex = '''(?i)acme[_-]?token\s*[:=]\s*(acme_[a-z0-9]{24})'''
keywords = ["acme"]
entropy = 3.0

[[rules.allowlists]]
regexes = ['''acme_0{24}''']

[[allowlists]]
description = "test tenant"
stopwords = ["acmetest"]
""")
    rules = load_rules(config)
    ids = {r.id for r in rules.rules}
    assert "acme-internal-token" in ids and "github-token" in ids and "jwt" not in ids
    engine = Engine(rules)
    text = ("ACME_TOKEN=acme_k3j9x8v7b6n5m4q2w1e0r9t8\n"
            "acme-token: acme_000000000000000000000000\n"
            "acme_token=acme_acmetest7b6n5m4q2w1e0r9t\n")
    found = [f for f in engine.scan_bytes(text.encode()) if f.rule.id == "acme-internal-token"]
    assert [f.secret for f in found] == ["acme_k3j9x8v7b6n5m4q2w1e0r9t8"]
    assert found[0].rule.type == "generic-api-key"  # mapped by the core taxonomy


def test_bad_rules_are_reported_one_by_one(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(r"""
[[rules]]
id = "ok"
regex = '''tok_[a-z]{10}'''
[[rules]]
id = "broken"
regex = '''tok_[a-z'''
[[rules]]
id = "no-regex"
path = '''\.p12$'''
""")
    rules = load_rules(config)
    assert [r.id for r in rules.rules] == ["ok"]
    reasons = {p.rule_id: p.reason for p in rules.problems}
    assert set(reasons) == {"broken", "no-regex"}
    assert "compile" in reasons["broken"]


def test_not_toml_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.toml"
    bad.write_text("[[rules]\nid=")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_rules(bad)


@pytest.mark.parametrize(
    ("go", "py"),
    [
        (r"(?i)abc", r"(?i)abc"),
        (r"x(?i)abc", r"x(?i:abc)"),
        (r"(a(?i)b|c)d", r"(a(?i:b)|(?i:c))d"),
        (r"end\z", r"end\Z"),
        (r"[[:alnum:]_]+", r"[0-9A-Za-z_]+"),
    ],
)
def test_translate_go_regex(go: str, py: str) -> None:
    assert translate_go_regex(go) == py
