"""Google Cloud Pub/Sub transport (google-cloud-pubsub).

* publish: ``PublisherClient.publish(topic, body, **attributes).result(timeout)`` — returns
  after Pub/Sub stored the message (it returned a message id).
* consume: synchronous ``pull`` on ``subscription`` (``ack_deadline`` = visibility timeout);
  nack = ``modify_ack_deadline`` to the delay; ack = ``acknowledge``.
* dedup: Pub/Sub has no publish-side deduplication, so the consumer drops a message whose
  ``delivery_id`` it already acked (or holds in flight) within ``dedup_window``. This ledger is
  per process: with several worker replicas, the pipeline's own idempotency (finding
  fingerprints, sinks' already-delivered records) is the second line.
* dead letters: published to ``dead_letter_topic`` with the error in the ``error`` attribute,
  then the original is acked. ``attempt`` is Pub/Sub's ``delivery_attempt`` when the
  subscription has a dead-letter policy, else counted by this consumer.

With ``emulator_host`` (or ``$PUBSUB_EMULATOR_HOST``) no credentials are used.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from pydantic import Field
from ticketscan.components import ComponentSettings, Message, Transport
from ticketscan.errors import TransportError

__all__ = ["PubSubTransport"]


class PubSubTransport(Transport):
    """Events through a Pub/Sub topic and pull subscription."""

    name = "gcp-pubsub"
    description = "Google Cloud Pub/Sub (dead-letter topic, consumer-side dedup)"

    class Settings(ComponentSettings):
        project: str = Field(description="Google Cloud project id.")
        topic: str = Field(default="ticketscan-events")
        subscription: str = Field(default="ticketscan-worker")
        dead_letter_topic: str = Field(default="ticketscan-dead")
        dead_letter_subscription: str = Field(
            default="ticketscan-dead-inspect",
            description="Subscription on the dead-letter topic (so dead letters are kept).",
        )
        ack_deadline: int = Field(default=300, ge=10, le=600, description="Visibility, s.")
        dedup_window: float = Field(default=3600.0, ge=0, description="Consumer dedup, s.")
        publish_timeout: float = Field(default=5.0, gt=0)
        create_resources: bool = Field(default=True, description="Create topics/subs if missing.")
        emulator_host: str | None = Field(default=None, description="host:port of the emulator.")

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        super().__init__(settings)
        s = self._settings
        if s.emulator_host:
            os.environ["PUBSUB_EMULATOR_HOST"] = s.emulator_host
        from google.cloud import pubsub_v1

        batch = pubsub_v1.types.BatchSettings(max_latency=0.001, max_messages=100)
        self._publisher = pubsub_v1.PublisherClient(batch_settings=batch)
        self._subscriber = pubsub_v1.SubscriberClient()
        self._topic = self._publisher.topic_path(s.project, s.topic)
        self._dead_topic = self._publisher.topic_path(s.project, s.dead_letter_topic)
        self._sub = self._subscriber.subscription_path(s.project, s.subscription)
        self._dead_sub = self._subscriber.subscription_path(s.project, s.dead_letter_subscription)
        self._lock = threading.Lock()
        self._ready = False
        self._done: dict[str, float] = {}  # delivery id -> when acked
        self._in_flight: dict[str, str] = {}  # delivery id -> ack id
        self._attempts: dict[str, int] = {}  # message id -> deliveries seen here

    @property
    def _settings(self) -> PubSubTransport.Settings:
        settings = self.settings
        assert isinstance(settings, PubSubTransport.Settings)
        return settings

    def _fail(self, what: str, exc: Exception) -> TransportError:
        return TransportError(f"{what} failed: {type(exc).__name__}: {str(exc)[:200]}",
                              plugin=self.name)

    # -- resources -----------------------------------------------------------------------

    def _ensure(self, force: bool = False) -> None:
        if self._ready and not force:
            return
        from google.api_core import exceptions as gexc

        s = self._settings
        if not s.create_resources:
            self._ready = True
            return
        for topic in (self._topic, self._dead_topic):
            with contextlib.suppress(gexc.AlreadyExists):
                self._publisher.create_topic(request={"name": topic}, timeout=10)
        for sub, topic in ((self._sub, self._topic), (self._dead_sub, self._dead_topic)):
            with contextlib.suppress(gexc.AlreadyExists):
                self._subscriber.create_subscription(
                    request={"name": sub, "topic": topic, "ack_deadline_seconds": s.ack_deadline},
                    timeout=10,
                )
        self._ready = True

    # -- publish ---------------------------------------------------------------------------

    def _publish(self, message: Message) -> None:
        from google.api_core import exceptions as gexc

        try:
            self._ensure()
            try:
                self._publisher.publish(self._topic, message.body, **message.attributes).result(
                    timeout=self._settings.publish_timeout
                )
            except gexc.NotFound:
                # the topic vanished (an emulator restart, a deleted topic): recreate, retry once
                self._ensure(force=True)
                self._publisher.publish(self._topic, message.body, **message.attributes).result(
                    timeout=self._settings.publish_timeout
                )
        except TransportError:
            raise
        except Exception as exc:
            self._ready = False
            raise self._fail("publish", exc) from exc

    # -- consume ---------------------------------------------------------------------------

    def _purge(self) -> None:
        horizon = time.time() - self._settings.dedup_window
        for key in [k for k, t in self._done.items() if t < horizon]:
            del self._done[key]

    def receive(self, max_messages: int = 1, timeout: float = 1.0) -> list[Message]:
        from google.api_core import exceptions as gexc

        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                self._ensure()
                response = self._subscriber.pull(
                    request={"subscription": self._sub, "max_messages": max(1, max_messages)},
                    timeout=max(0.5, min(timeout, 10.0)),
                )
            except (gexc.DeadlineExceeded, gexc.RetryError):
                response = None
            except Exception as exc:
                self._ready = False
                raise self._fail("receive", exc) from exc
            out = self._accept(response.received_messages if response else [])
            if out or time.monotonic() >= deadline:
                return out
            time.sleep(0.05)

    def _accept(self, received: Any) -> list[Message]:
        out: list[Message] = []
        duplicates: list[str] = []
        with self._lock:
            self._purge()
            for item in received:
                msg = item.message
                attributes = dict(msg.attributes)
                did = attributes.get("delivery_id", "")
                if did and (did in self._done or (
                        did in self._in_flight and self._in_flight[did] != item.ack_id)):
                    duplicates.append(item.ack_id)  # a second copy of a delivery: drop it
                    continue
                seen = self._attempts.get(msg.message_id, 0) + 1
                self._attempts[msg.message_id] = seen
                attempt = int(item.delivery_attempt) if item.delivery_attempt else seen
                if did:
                    self._in_flight[did] = item.ack_id
                out.append(Message(body=bytes(msg.data), attributes=attributes,
                                   handle=(item.ack_id, msg.message_id), attempt=attempt))
        if duplicates:
            self._subscriber.acknowledge(request={"subscription": self._sub,
                                                  "ack_ids": duplicates})
        return out

    def _forget(self, message: Message, done: bool) -> None:
        with self._lock:
            did = message.delivery_id
            if did:
                self._in_flight.pop(did, None)
                if done:
                    self._done[did] = time.time()
            if done:
                self._attempts.pop(message.handle[1], None)

    def ack(self, message: Message) -> None:
        try:
            self._subscriber.acknowledge(request={"subscription": self._sub,
                                                  "ack_ids": [message.handle[0]]})
        except Exception as exc:
            raise self._fail("ack", exc) from exc
        self._forget(message, done=True)

    def nack(self, message: Message, delay: float = 0.0) -> None:
        seconds = int(min(600, max(0, round(delay))))
        try:
            self._subscriber.modify_ack_deadline(request={
                "subscription": self._sub, "ack_ids": [message.handle[0]],
                "ack_deadline_seconds": seconds,
            })
        except Exception as exc:
            raise self._fail("nack", exc) from exc
        self._forget(message, done=False)

    def dead_letter(self, message: Message, error: str) -> None:
        attributes = {**message.attributes, "error": error[:1000],
                      "attempts": str(message.attempt)}
        try:
            self._ensure()
            self._publisher.publish(self._dead_topic, message.body, **attributes).result(
                timeout=self._settings.publish_timeout)
        except Exception as exc:
            raise self._fail("dead-letter", exc) from exc
        self.ack(message)

    def dead_letters(self, timeout: float = 3.0) -> list[tuple[bytes, dict[str, str]]]:
        """Pull (and ack) what the dead-letter subscription holds: (body, attributes)."""
        from google.api_core import exceptions as gexc

        out: list[tuple[bytes, dict[str, str]]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                response = self._subscriber.pull(
                    request={"subscription": self._dead_sub, "max_messages": 100}, timeout=2)
            except gexc.DeadlineExceeded:
                continue
            if not response.received_messages:
                if out:
                    break
                time.sleep(0.1)
                continue
            for item in response.received_messages:
                out.append((bytes(item.message.data), dict(item.message.attributes)))
            self._subscriber.acknowledge(request={
                "subscription": self._dead_sub,
                "ack_ids": [i.ack_id for i in response.received_messages]})
        return out

    def ping(self) -> None:
        try:
            self._ensure()
            self._publisher.get_topic(request={"topic": self._topic}, timeout=5)
        except Exception as exc:
            self._ready = False
            raise self._fail("ping", exc) from exc

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._publisher.stop()
        with contextlib.suppress(Exception):
            self._subscriber.close()
