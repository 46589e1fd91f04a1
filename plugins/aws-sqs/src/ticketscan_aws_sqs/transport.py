"""AWS SQS transport (boto3), FIFO queues.

* publish: ``send_message`` with ``MessageDeduplicationId`` = sha256(delivery id) (SQS drops a
  redelivery within its 5-minute deduplication interval) and ``MessageGroupId`` = the same
  hash, so unrelated events never block each other. Returns after SQS answered with a
  MessageId (stored).
* consume: ``receive_message`` (long polling); ``attempt`` = ``ApproximateReceiveCount``;
  nack = ``change_message_visibility`` to the delay; ack = ``delete_message``.
* dead letters: sent to ``dead_letter_queue`` (FIFO too) with the error as a message
  attribute, then the original is deleted. (An SQS redrive policy on the queue works as well;
  the worker's own ``max_attempts`` keeps the error text, which a redrive policy does not.)

SQS allows 10 message attributes: ``source``, ``delivery_id``, ``received_at`` and a few
``h-*`` delivery headers fit; extra attributes beyond 10 are dropped with a warning.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from pydantic import Field, SecretStr
from ticketscan.components import ComponentSettings, Message, Transport
from ticketscan.errors import TransportError

__all__ = ["SqsTransport"]

log = logging.getLogger("ticketscan.aws_sqs")
MAX_ATTRIBUTES = 10


class SqsTransport(Transport):
    """Events through an SQS FIFO queue."""

    name = "aws-sqs"
    description = "AWS SQS FIFO (deduplication id, dead-letter queue)"

    class Settings(ComponentSettings):
        queue: str = Field(default="ticketscan-events.fifo", description="Queue name (.fifo).")
        dead_letter_queue: str = Field(default="ticketscan-dead.fifo")
        region: str = Field(default="us-east-1")
        endpoint_url: str | None = Field(default=None, description="For tests/LocalStack/moto.")
        visibility_timeout: int = Field(default=300, ge=0, le=43200)
        create_queues: bool = Field(default=False, description="Create the queues if missing.")
        access_key_id: SecretStr | None = Field(
            default=None, description="Only if not using the default credential chain.")
        secret_access_key: SecretStr | None = None

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        super().__init__(settings)
        import boto3
        from botocore.config import Config as BotoConfig

        s = self._settings
        if not s.queue.endswith(".fifo") or not s.dead_letter_queue.endswith(".fifo"):
            raise TransportError("queue and dead_letter_queue must be FIFO queues (*.fifo): "
                                 "deduplication by delivery id needs FIFO", plugin=self.name)
        kwargs: dict[str, Any] = {
            "region_name": s.region,
            "config": BotoConfig(retries={"max_attempts": 2, "mode": "standard"},
                                 connect_timeout=3, read_timeout=25),
        }
        if s.endpoint_url:
            kwargs["endpoint_url"] = s.endpoint_url
        if s.access_key_id and s.secret_access_key:
            kwargs["aws_access_key_id"] = s.access_key_id.get_secret_value()
            kwargs["aws_secret_access_key"] = s.secret_access_key.get_secret_value()
        self._sqs = boto3.client("sqs", **kwargs)
        self._urls: dict[str, str] = {}

    @property
    def _settings(self) -> SqsTransport.Settings:
        settings = self.settings
        assert isinstance(settings, SqsTransport.Settings)
        return settings

    def _fail(self, what: str, exc: Exception) -> TransportError:
        return TransportError(f"{what} failed: {type(exc).__name__}: {str(exc)[:200]}",
                              plugin=self.name)

    def _url(self, name: str) -> str:
        if name in self._urls:
            return self._urls[name]
        s = self._settings
        try:
            url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except self._sqs.exceptions.QueueDoesNotExist:
            if not s.create_queues:
                raise TransportError(f"queue {name} does not exist (create_queues = false)",
                                     plugin=self.name) from None
            url = self._sqs.create_queue(QueueName=name, Attributes={
                "FifoQueue": "true", "VisibilityTimeout": str(s.visibility_timeout),
            })["QueueUrl"]
        self._urls[name] = str(url)
        return str(url)

    @staticmethod
    def _dedup_id(delivery_id: str, body: bytes) -> str:
        return hashlib.sha256((delivery_id or "").encode() or body).hexdigest()

    def _attributes(self, attributes: dict[str, str]) -> dict[str, Any]:
        items = list(attributes.items())
        if len(items) > MAX_ATTRIBUTES:
            log.warning("SQS keeps %d message attributes; dropping %s", MAX_ATTRIBUTES,
                        ", ".join(k for k, _ in items[MAX_ATTRIBUTES:]))
        return {k: {"DataType": "String", "StringValue": v or " "}
                for k, v in items[:MAX_ATTRIBUTES]}

    def _publish(self, message: Message) -> None:
        try:
            dedup = self._dedup_id(message.delivery_id, message.body)
            self._sqs.send_message(
                QueueUrl=self._url(self._settings.queue), MessageBody=message.body.decode("utf-8"),
                MessageDeduplicationId=dedup, MessageGroupId=dedup,
                MessageAttributes=self._attributes(message.attributes),
            )
        except TransportError:
            raise
        except UnicodeDecodeError as exc:
            raise TransportError("SQS carries text only; the body is not UTF-8",
                                 plugin=self.name) from exc
        except Exception as exc:
            raise self._fail("publish", exc) from exc

    def receive(self, max_messages: int = 1, timeout: float = 1.0) -> list[Message]:
        try:
            response = self._sqs.receive_message(
                QueueUrl=self._url(self._settings.queue),
                MaxNumberOfMessages=max(1, min(10, max_messages)),
                WaitTimeSeconds=int(max(0, min(20, round(timeout)))),
                AttributeNames=["ApproximateReceiveCount"],
                MessageAttributeNames=["All"],
            )
        except TransportError:
            raise
        except Exception as exc:
            raise self._fail("receive", exc) from exc
        out = []
        for item in response.get("Messages", []):
            attributes = {k: v.get("StringValue", "")
                          for k, v in item.get("MessageAttributes", {}).items()}
            attempt = int(item.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            out.append(Message(body=item["Body"].encode("utf-8"), attributes=attributes,
                               handle=item["ReceiptHandle"], attempt=attempt))
        return out

    def ack(self, message: Message) -> None:
        try:
            self._sqs.delete_message(QueueUrl=self._url(self._settings.queue),
                                     ReceiptHandle=message.handle)
        except Exception as exc:
            raise self._fail("ack", exc) from exc

    def nack(self, message: Message, delay: float = 0.0) -> None:
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self._url(self._settings.queue), ReceiptHandle=message.handle,
                VisibilityTimeout=int(max(0, min(43200, round(delay)))),
            )
        except Exception as exc:
            raise self._fail("nack", exc) from exc

    def dead_letter(self, message: Message, error: str) -> None:
        attributes = {**message.attributes, "error": error[:1000],
                      "attempts": str(message.attempt)}
        keep = ["error", "attempts", "source", "delivery_id", "received_at"]
        ordered = {k: attributes[k] for k in keep if k in attributes}
        ordered.update({k: v for k, v in attributes.items() if k not in ordered})
        try:
            dedup = self._dedup_id(message.delivery_id, message.body)
            self._sqs.send_message(
                QueueUrl=self._url(self._settings.dead_letter_queue),
                MessageBody=message.body.decode("utf-8"), MessageDeduplicationId=dedup,
                MessageGroupId=dedup, MessageAttributes=self._attributes(ordered),
            )
        except Exception as exc:
            raise self._fail("dead-letter", exc) from exc
        self.ack(message)

    def dead_letters(self) -> list[tuple[bytes, dict[str, str]]]:
        """Receive (and delete) what the dead-letter queue holds: (body, attributes)."""
        out: list[tuple[bytes, dict[str, str]]] = []
        url = self._url(self._settings.dead_letter_queue)
        while True:
            response = self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                 WaitTimeSeconds=1, MessageAttributeNames=["All"])
            items = response.get("Messages", [])
            if not items:
                return out
            for item in items:
                out.append((item["Body"].encode(), {k: v.get("StringValue", "") for k, v in
                                                    item.get("MessageAttributes", {}).items()}))
                self._sqs.delete_message(QueueUrl=url, ReceiptHandle=item["ReceiptHandle"])

    def ping(self) -> None:
        try:
            self._url(self._settings.queue)
            self._url(self._settings.dead_letter_queue)
        except TransportError:
            raise
        except Exception as exc:
            raise self._fail("ping", exc) from exc

    def close(self) -> None:
        self._sqs.close()
