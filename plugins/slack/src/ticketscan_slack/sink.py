"""Slack sink: one Block Kit message per ticket, via an incoming webhook or chat.postMessage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, SecretStr, model_validator
from ticketscan.components import ComponentSettings, PublishContext, Sink
from ticketscan.delivery import SinkRetryError
from ticketscan.errors import SinkError
from ticketscan.models import Finding, SinkReport

from .blocks import build_message

__all__ = ["SlackSink"]

#: chat.postMessage errors worth retrying (Slack API docs); others fail the batch.
RETRY_ERRORS = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                          "request_timeout"})


class SlackSink(Sink):
    """Posts one message per ticket: link, counts per type, redacted findings, engines."""

    name = "slack"
    description = "Slack message per ticket (incoming webhook or bot token)"
    batch_by_ticket = True

    class Settings(ComponentSettings):
        webhook_url: SecretStr | None = Field(
            default=None, description="Incoming webhook URL (by reference; it is a secret)."
        )
        token: SecretStr | None = Field(default=None, description="Bot token (xoxb-...).")
        channel: str | None = Field(default=None, description="Channel id for chat.postMessage.")
        base_url: str = Field(
            default="https://slack.com/api/", description="Slack Web API base (tests only)."
        )
        max_listed: int = Field(default=20, ge=1, le=44, description="Findings listed per message.")
        timeout: int = Field(default=30, gt=0)

        @model_validator(mode="after")
        def _one_way(self) -> SlackSink.Settings:
            if (self.webhook_url is None) == (self.token is None):
                raise ValueError("set exactly one of webhook_url or token")
            if self.token is not None and not self.channel:
                raise ValueError("token needs channel")
            return self

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        super().__init__(settings)
        self._client: Any = None

    @property
    def _s(self) -> SlackSink.Settings:
        s = self.settings
        assert isinstance(s, SlackSink.Settings)
        return s

    def _publish(
        self, findings: Sequence[Finding], context: PublishContext, report: SinkReport
    ) -> None:
        message = build_message(findings, max_listed=self._s.max_listed)
        if context.dry_run:
            return
        if self._s.webhook_url is not None:
            self._via_webhook(message)
        else:
            self._via_api(message)

    def _via_webhook(self, message: dict[str, Any]) -> None:
        from slack_sdk.webhook import WebhookClient

        s = self._s
        assert s.webhook_url is not None
        if self._client is None:
            self._client = WebhookClient(s.webhook_url.get_secret_value(), timeout=s.timeout)
        try:
            response = self._client.send(text=message["text"], blocks=message["blocks"])
        except OSError as exc:
            raise SinkRetryError(f"incoming webhook unreachable: {exc}", plugin=self.name) from exc
        if response.status_code == 200:
            return
        body = (response.body or "")[:200]
        if response.status_code == 429 or response.status_code >= 500:
            raise SinkRetryError(
                f"incoming webhook answered HTTP {response.status_code}: {body}",
                plugin=self.name, retry_after=_retry_after(response.headers),
            )
        raise SinkError(f"incoming webhook refused the message: HTTP {response.status_code} "
                        f"{body}", plugin=self.name)

    def _via_api(self, message: dict[str, Any]) -> None:
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        s = self._s
        assert s.token is not None
        if self._client is None:
            self._client = WebClient(token=s.token.get_secret_value(), base_url=s.base_url,
                                     timeout=s.timeout)
        try:
            self._client.chat_postMessage(channel=s.channel, text=message["text"],
                                          blocks=message["blocks"], unfurl_links=False)
        except SlackApiError as exc:
            response = exc.response
            error = str(response.get("error", "")) if response is not None else ""
            status = response.status_code if response is not None else 0
            headers = response.headers if response is not None else {}
            if status == 429 or status >= 500 or error in RETRY_ERRORS:
                raise SinkRetryError(f"chat.postMessage: {error or status}", plugin=self.name,
                                     retry_after=_retry_after(headers)) from None
            raise SinkError(f"chat.postMessage failed: {error or status}",
                            plugin=self.name) from None
        except OSError as exc:
            raise SinkRetryError(f"Slack API unreachable: {exc}", plugin=self.name) from exc


def _retry_after(headers: Any) -> float | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None
