"""The ``[receiver]`` section: listen address, limits, transport and per-source authentication.

::

    [receiver]
    transport = "embedded"            # a transport plugin; its settings live in [transports.NAME]
    max_body_bytes = 1048576          # 1 MiB, NATS's default message limit
    request_timeout = 10.0            # seconds to read the body and publish
    retry_after = 5                   # seconds, in the Retry-After header of a 503

    [receiver.sources.jira]           # POST /hooks/jira
    auth = "jira-hmac"                # X-Hub-Signature: sha256=<hex> over the raw body
    secrets = [{ env = "JIRA_WEBHOOK_SECRET" }, { env = "JIRA_WEBHOOK_SECRET_PREVIOUS" }]

    [receiver.sources.zendesk]
    auth = "zendesk-hmac"             # X-Zendesk-Webhook-Signature (+ -Timestamp)
    secrets = [{ file = "/var/run/secrets/zendesk-webhook" }]
    replay_window = 300

    [receiver.sources.payload]
    auth = "api-key"                  # header X-Ticketscan-Key, or ?token= if allow_query_token
    secrets = [{ env = "HOOK_KEY_A" }, { env = "HOOK_KEY_B" }]   # several: rotation
    rate_limit = 20                   # requests/s (token bucket; burst = 2x)

Secrets are only ever given by reference (``env``/``file``); a literal is refused at load.
Several secrets are active at once so keys and signing secrets can be rotated without downtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ticketscan.config import Config, resolve_refs
from ticketscan.errors import ConfigError

__all__ = [
    "DEMO_JIRA_SECRET",
    "AuthScheme",
    "ReceiverSettings",
    "SourceAuth",
    "default_scheme",
    "receiver_settings",
]

AuthScheme = Literal["jira-hmac", "zendesk-hmac", "api-key", "none"]

#: The documented secret the bundled sample event is signed with. Used ONLY by the
#: one-machine mode when no ``[receiver]`` section exists, which listens on 127.0.0.1.
DEMO_JIRA_SECRET = "ticketscan-demo-secret-do-not-use-in-production"  # noqa: S105


def default_scheme(source: str) -> AuthScheme:
    """What a source authenticates with when its section names no ``auth``."""
    return {"jira": "jira-hmac", "zendesk": "zendesk-hmac"}.get(source, "api-key")  # type: ignore[return-value]


class SourceAuth(BaseModel):
    """One source's ``[receiver.sources.NAME]`` section."""

    model_config = ConfigDict(extra="forbid")

    auth: AuthScheme | None = Field(
        default=None,
        description="jira-hmac | zendesk-hmac | api-key | none (default: by source name).",
    )
    secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Signing secrets or API keys, by reference; several for rotation.",
    )
    header: str = Field(default="X-Ticketscan-Key", description="Header carrying the API key.")
    allow_query_token: bool = Field(
        default=False,
        description="Also accept the API key as ?token=... (for systems that cannot set headers).",
    )
    replay_window: float = Field(
        default=300.0, gt=0, description="Zendesk: seconds a signature timestamp stays valid."
    )
    rate_limit: float | None = Field(
        default=None, gt=0, description="Requests per second for this source (burst = 2x)."
    )
    content_types: list[str] = Field(
        default_factory=lambda: ["application/json"],
        description="Accepted media types (parameters such as charset are ignored).",
    )

    def scheme(self, source: str) -> AuthScheme:
        return self.auth or default_scheme(source)


class ReceiverSettings(BaseModel):
    """The ``[receiver]`` section."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port ($PORT wins when set).")
    transport: str = Field(default="embedded", description="Transport plugin to publish to.")
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, description="Larger bodies get 413.")
    request_timeout: float = Field(default=10.0, gt=0, description="Read + publish, seconds.")
    retry_after: int = Field(default=5, ge=0, description="Retry-After seconds on a 503.")
    sources: dict[str, SourceAuth] = Field(default_factory=dict)


def receiver_settings(config: Config) -> ReceiverSettings:
    """Validate ``[receiver]``; secrets must be references; resolve them."""
    raw: Any = config.data.get("receiver", {})
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table", file=_file(config), section="receiver")
    sources = raw.get("sources", {})
    if isinstance(sources, Mapping):
        for name, section in sources.items():
            if not isinstance(section, Mapping):
                continue
            values = section.get("secrets", [])
            for item in values if isinstance(values, list) else [values]:
                if isinstance(item, str) and not config.from_env(
                    f"receiver.sources.{name}", "secrets"
                ):
                    raise ConfigError(
                        "secrets must be given by reference, not in clear",
                        file=_file(config), section=f"receiver.sources.{name}", key="secrets",
                        hint='write secrets = [{ env = "VAR" }] or [{ file = "/path" }]',
                    )
    resolved = resolve_refs(dict(raw), file=config.path, section="receiver")
    try:
        return ReceiverSettings.model_validate(resolved)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(
            err["msg"], file=_file(config), section="receiver",
            key=".".join(str(p) for p in err["loc"]) or None,
        ) from None


def _file(config: Config) -> str:
    return str(config.path) if config.path else "<defaults/env>"
