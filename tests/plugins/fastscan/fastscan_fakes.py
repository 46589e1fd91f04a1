"""Fake secrets for fastscan's tests: random, structurally valid, never real."""

from __future__ import annotations

import base64
import json
import random
import string
import zlib

from ticketscan.checks import _base62  # the same encoding GitHub uses for its checksum

_B62 = string.ascii_letters + string.digits


def rand(alphabet: str, n: int, rng: random.Random) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def github_token(rng: random.Random, prefix: str = "ghp") -> str:
    body = rand(_B62, 30, rng)
    return f"{prefix}_{body}{_base62(zlib.crc32(body.encode()))}"


def aws_key_id(rng: random.Random) -> str:
    return "AKIA" + rand(string.ascii_uppercase + "234567", 16, rng)


def jwt(rng: random.Random) -> str:
    def seg(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return ".".join([seg({"alg": "HS256", "typ": "JWT"}),
                     seg({"sub": rand(_B62, 10, rng), "iat": 1700000000}),
                     rand(_B62 + "-_", 43, rng)])


def fake_secrets(seed: int = 7) -> dict[str, str]:
    rng = random.Random(seed)
    return {
        "github-token": github_token(rng),
        "aws-access-key-id": aws_key_id(rng),
        "stripe-secret-key": "sk_live_" + rand(_B62, 24, rng),
        "gitlab-pat": "glpat-" + rand(_B62, 20, rng),
        "slack-token": f"xoxb-{rand(string.digits, 12, rng)}-{rand(string.digits, 13, rng)}-"
                       + rand(_B62, 24, rng),
        "sendgrid-api-key": "SG." + rand(_B62, 22, rng) + "." + rand(_B62, 43, rng),
        "npm-token": "npm_" + rand(_B62, 36, rng),
        "anthropic-api-key": "sk-ant-api03-" + rand(_B62 + "-_", 93, rng) + "AA",
        "jwt": jwt(rng),
    }
