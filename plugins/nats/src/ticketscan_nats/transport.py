"""NATS JetStream transport (nats-py).

* publish: ``js.publish`` to ``subject`` with ``Nats-Msg-Id = delivery id``; JetStream drops a
  redelivery within the stream's ``duplicate_window``. Returns after the PubAck (the stream
  stored it), so the receiver answers 202 only then.
* consume: a durable pull consumer (explicit ack, ``ack_wait`` = visibility timeout).
  ``attempt`` = ``num_delivered``; nack = ``NAK`` with delay; ack = ``ack_sync``.
* dead letters: published to ``dead_letter_subject`` (its own stream) with the error in the
  ``Ticketscan-Error`` header, then the original is acked.

Attributes travel as message headers. nats-py is asyncio; this class runs one event loop in a
background thread and offers both the sync contract and ``publish_async`` for the receiver.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import nats
from nats.errors import NoServersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import api
from nats.js.errors import NotFoundError
from pydantic import Field, SecretStr
from ticketscan.components import ComponentSettings, Message, Transport
from ticketscan.errors import TransportError

__all__ = ["NatsTransport"]

T = TypeVar("T")
ERROR_HEADER = "Ticketscan-Error"
_RESERVED = {"Nats-Msg-Id", ERROR_HEADER}


class NatsTransport(Transport):
    """Events through a NATS JetStream stream, dedup by ``Nats-Msg-Id``."""

    name = "nats"
    description = "NATS JetStream (dedup by Nats-Msg-Id, dead-letter stream)"

    class Settings(ComponentSettings):
        servers: list[str] = Field(default_factory=lambda: ["nats://127.0.0.1:4222"])
        stream: str = Field(default="TICKETSCAN", description="Stream holding the events.")
        subject: str = Field(default="ticketscan.events", description="Subject of the events.")
        durable: str = Field(default="ticketscan-worker", description="Durable consumer name.")
        dead_letter_stream: str = Field(default="TICKETSCAN_DEAD")
        dead_letter_subject: str = Field(default="ticketscan.dead")
        duplicate_window: float = Field(default=600.0, gt=0, description="Dedup window, s.")
        ack_wait: float = Field(default=300.0, gt=0, description="Visibility timeout, s.")
        storage: str = Field(default="file", pattern="^(file|memory)$")
        create_stream: bool = Field(default=True, description="Create the streams if missing.")
        connect_timeout: float = Field(default=2.0, gt=0)
        publish_timeout: float = Field(default=5.0, gt=0)
        user: str | None = None
        password: SecretStr | None = None
        token: SecretStr | None = None
        credentials_file: str | None = Field(default=None, description="NATS .creds file.")

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        super().__init__(settings)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="ticketscan-nats")
        self._thread.start()
        self._nc: Any = None
        self._js: Any = None
        self._psub: Any = None
        self._connect_lock: asyncio.Lock | None = None
        self._streams_ready = False

    @property
    def _settings(self) -> NatsTransport.Settings:
        settings = self.settings
        assert isinstance(settings, NatsTransport.Settings)
        return settings

    # -- loop plumbing -------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise TransportError("timed out talking to NATS", plugin=self.name) from exc

    async def _connect(self) -> Any:
        if self._nc is not None and self._nc.is_connected:
            return self._js
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self._nc is not None and self._nc.is_connected:
                return self._js
            if self._nc is not None and (self._nc.is_reconnecting or self._nc.is_connecting):
                raise TransportError("NATS connection is reconnecting", plugin=self.name)
            s = self._settings
            options: dict[str, Any] = {
                "servers": s.servers,
                "connect_timeout": s.connect_timeout,
                # fail fast on the first connect; reconnect forever once connected (below)
                "max_reconnect_attempts": 1,
                "reconnect_time_wait": 0.25,
                "allow_reconnect": True,
                "name": "ticketscan",
            }
            if s.user:
                options["user"] = s.user
            if s.password:
                options["password"] = s.password.get_secret_value()
            if s.token:
                options["token"] = s.token.get_secret_value()
            if s.credentials_file:
                options["user_credentials"] = s.credentials_file

            async def quiet(*args: Any) -> None:
                return None

            options.update(error_cb=quiet, disconnected_cb=quiet, reconnected_cb=quiet,
                           closed_cb=quiet)
            if self._nc is not None:
                with contextlib.suppress(Exception):
                    await self._nc.close()
            try:
                self._nc = await nats.connect(**options)
            except (TimeoutError, NoServersError, OSError, NatsTimeout) as exc:
                self._nc = None
                raise TransportError(f"cannot connect to NATS at {', '.join(s.servers)}: "
                                     f"{type(exc).__name__}", plugin=self.name) from exc
            self._nc.options["max_reconnect_attempts"] = -1
            self._js = self._nc.jetstream(timeout=s.publish_timeout)
            self._psub = None
            if not self._streams_ready:
                await self._ensure_streams()
            return self._js

    async def _ensure_streams(self) -> None:
        s = self._settings
        storage = api.StorageType.FILE if s.storage == "file" else api.StorageType.MEMORY
        for name, subject in ((s.stream, s.subject), (s.dead_letter_stream,
                                                      s.dead_letter_subject)):
            try:
                await self._js.stream_info(name)
            except NotFoundError:
                if not s.create_stream:
                    raise TransportError(f"stream {name} does not exist (create_stream = false)",
                                         plugin=self.name) from None
                await self._js.add_stream(
                    name=name, subjects=[subject], storage=storage,
                    duplicate_window=s.duplicate_window,
                )
        self._streams_ready = True

    # -- publish ---------------------------------------------------------------------------

    async def _apublish(self, message: Message) -> None:
        js = await self._connect()
        s = self._settings
        headers = {k: v for k, v in message.attributes.items() if k not in _RESERVED}
        if message.delivery_id:
            headers["Nats-Msg-Id"] = message.delivery_id
        try:
            await js.publish(s.subject, message.body, timeout=s.publish_timeout,
                             stream=s.stream, headers=headers)
        except TransportError:
            raise
        except Exception as exc:
            raise TransportError(f"publish not confirmed: {type(exc).__name__}",
                                 plugin=self.name) from exc

    def _publish(self, message: Message) -> None:
        self._run(self._apublish(message), timeout=self._settings.publish_timeout + 5)

    async def publish_async(self, message: Message) -> None:
        """Publish from another event loop (the receiver's) without a worker thread."""
        future = asyncio.run_coroutine_threadsafe(self._apublish(message), self._loop)
        try:
            await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    # -- consume -------------------------------------------------------------------------

    async def _areceive(self, max_messages: int, timeout: float) -> list[Message]:
        js = await self._connect()
        s = self._settings
        if self._psub is None:
            config = api.ConsumerConfig(
                durable_name=s.durable, ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=s.ack_wait, max_deliver=-1,
            )
            self._psub = await js.pull_subscribe(s.subject, durable=s.durable, stream=s.stream,
                                                 config=config)
        try:
            msgs = await self._psub.fetch(max(1, max_messages), timeout=max(0.05, timeout))
        except (TimeoutError, NatsTimeout):
            return []
        out = []
        for msg in msgs:
            attributes = {k: v for k, v in (msg.headers or {}).items() if k not in _RESERVED}
            out.append(Message(body=bytes(msg.data), attributes=attributes, handle=msg,
                               attempt=int(msg.metadata.num_delivered)))
        return out

    def receive(self, max_messages: int = 1, timeout: float = 1.0) -> list[Message]:
        try:
            return self._run(self._areceive(max_messages, timeout), timeout=timeout + 10)
        except TransportError:
            raise
        except Exception as exc:
            raise TransportError(f"receive failed: {type(exc).__name__}: {exc}",
                                 plugin=self.name) from exc

    def _settle(self, coro: Coroutine[Any, Any, Any], what: str) -> None:
        try:
            self._run(coro, timeout=15)
        except TransportError:
            raise
        except Exception as exc:
            raise TransportError(f"{what} failed: {type(exc).__name__}: {exc}",
                                 plugin=self.name) from exc

    def ack(self, message: Message) -> None:
        self._settle(message.handle.ack_sync(timeout=5), "ack")

    def nack(self, message: Message, delay: float = 0.0) -> None:
        self._settle(message.handle.nak(delay=delay or None), "nack")

    def dead_letter(self, message: Message, error: str) -> None:
        async def move() -> None:
            js = await self._connect()
            s = self._settings
            headers = {k: v for k, v in message.attributes.items() if k not in _RESERVED}
            headers[ERROR_HEADER] = error.replace("\r", " ").replace("\n", " ")[:1000]
            headers["Ticketscan-Attempts"] = str(message.attempt)
            await js.publish(s.dead_letter_subject, message.body, stream=s.dead_letter_stream,
                             headers=headers, timeout=s.publish_timeout)
            await message.handle.ack_sync(timeout=5)

        self._settle(move(), "dead-letter")

    def dead_letters(self, limit: int = 1000) -> list[tuple[bytes, dict[str, str]]]:
        """Read (without consuming) what the dead-letter stream holds: (body, headers)."""

        async def read() -> list[tuple[bytes, dict[str, str]]]:
            js = await self._connect()
            info = await js.stream_info(self._settings.dead_letter_stream)
            out = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                if len(out) >= limit:
                    break
                try:
                    raw = await js.get_msg(self._settings.dead_letter_stream, seq)
                except NotFoundError:
                    continue
                out.append((bytes(raw.data or b""), dict(raw.headers or {})))
            return out

        return self._run(read(), timeout=30)

    def ping(self) -> None:
        async def check() -> None:
            js = await self._connect()
            await self._nc.flush(timeout=2)
            await js.stream_info(self._settings.stream)

        try:
            self._run(check(), timeout=10)
        except TransportError:
            raise
        except Exception as exc:
            raise TransportError(f"NATS not reachable: {type(exc).__name__}",
                                 plugin=self.name) from exc

    def close(self) -> None:
        async def shutdown() -> None:
            if self._nc is not None:
                with contextlib.suppress(Exception):
                    await self._nc.close()

        async def cancel_rest() -> None:
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._loop.is_running():
            for step in (shutdown, cancel_rest):
                with contextlib.suppress(TransportError):
                    self._run(step(), timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            if not self._thread.is_alive():
                self._loop.close()
