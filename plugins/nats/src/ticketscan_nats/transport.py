"""NATS JetStream transport (nats-py).

* publish: ``js.publish`` to ``subject`` with ``Nats-Msg-Id = delivery id``; JetStream drops a
  redelivery within the stream's ``duplicate_window``. Returns after the PubAck (the stream
  stored it), so the receiver answers 202 only then.
* consume: a durable pull consumer (explicit ack, ``ack_wait`` = visibility timeout).
  ``attempt`` = ``num_delivered``; nack = ``NAK`` with delay; ack = ``ack_sync``.
* dead letters: published to ``dead_letter_subject`` (its own stream) with the error in the
  ``Ticketscan-Error`` header, then the original is acked.

Attributes travel as message headers. nats-py is asyncio; this class runs one event loop in a
background thread for the sync contract (receive/ack/ping/...). ``publish_async`` (the
receiver's path) runs on the CALLER's event loop with a connection of its own there (one per
loop, opened on first use, closed by ``aclose``), so a publish costs no hop between threads;
concurrent publishes are pipelined on that connection (each waits only for its own PubAck).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import nats
from nats.errors import NoServersError, TimeoutError as NatsTimeout
from nats.js import api
from nats.js.errors import NotFoundError
from pydantic import Field, SecretStr
from ticketscan.components import ComponentSettings, Message, Transport
from ticketscan.errors import TransportError

__all__ = ["NatsTransport"]

T = TypeVar("T")
ERROR_HEADER = "Ticketscan-Error"
_RESERVED = {"Nats-Msg-Id", ERROR_HEADER}


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError("no PubAck in time"))


class _Link:
    """One NATS connection and its JetStream context, living on one event loop."""

    __slots__ = ("acks", "js", "lock", "nc", "prefix", "seq")

    def __init__(self) -> None:
        self.nc: Any = None
        self.js: Any = None
        self.lock: asyncio.Lock | None = None
        #: reply subjects ``<prefix><seq>`` of publishes waiting for their PubAck
        self.prefix = ""
        self.seq = 0
        self.acks: dict[str, asyncio.Future[Any]] = {}

    async def reply_inbox(self) -> str:
        """One wildcard subscription for the PubAcks of every publish on this connection."""
        if not self.prefix:
            prefix = self.nc.new_inbox() + "."
            acks = self.acks
            start = len(prefix)

            async def on_ack(msg: Any) -> None:
                future = acks.pop(msg.subject[start:], None)
                if future is not None and not future.done():
                    future.set_result(msg)

            await self.nc.subscribe(prefix + "*", cb=on_ack)
            self.prefix = prefix
        return self.prefix


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
        self._home = _Link()  # the background loop's connection (sync contract)
        self._links: dict[asyncio.AbstractEventLoop, _Link] = {}  # publish_async, per loop
        self._psub: Any = None
        self._streams_ready = False

    @property
    def _nc(self) -> Any:
        return self._home.nc

    @property
    def _js(self) -> Any:
        return self._home.js

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

    async def _connect(self, link: _Link | None = None) -> Any:
        link = link or self._home
        nc = link.nc
        if nc is not None and nc.is_connected:
            return link.js
        if link.lock is None:
            link.lock = asyncio.Lock()
        async with link.lock:
            if link.nc is not None and link.nc.is_connected:
                return link.js
            if link.nc is not None and (link.nc.is_reconnecting or link.nc.is_connecting):
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
            if link.nc is not None:
                with contextlib.suppress(Exception):
                    await link.nc.close()
            try:
                link.nc = await nats.connect(**options)
            except (TimeoutError, NoServersError, OSError, NatsTimeout) as exc:
                link.nc = None
                raise TransportError(f"cannot connect to NATS at {', '.join(s.servers)}: "
                                     f"{type(exc).__name__}", plugin=self.name) from exc
            link.nc.options["max_reconnect_attempts"] = -1
            link.js = link.nc.jetstream(timeout=s.publish_timeout)
            link.prefix = ""
            if link is self._home:
                self._psub = None
            if not self._streams_ready:
                await self._ensure_streams(link.js)
            return link.js

    async def _ensure_streams(self, js: Any) -> None:
        s = self._settings
        storage = api.StorageType.FILE if s.storage == "file" else api.StorageType.MEMORY
        for name, subject in ((s.stream, s.subject), (s.dead_letter_stream,
                                                      s.dead_letter_subject)):
            try:
                await js.stream_info(name)
            except NotFoundError:
                if not s.create_stream:
                    raise TransportError(f"stream {name} does not exist (create_stream = false)",
                                         plugin=self.name) from None
                await js.add_stream(
                    name=name, subjects=[subject], storage=storage,
                    duplicate_window=s.duplicate_window,
                )
        self._streams_ready = True

    # -- publish ---------------------------------------------------------------------------

    async def _apublish(self, message: Message, link: _Link | None = None) -> None:
        """Publish and wait for the PubAck (the stream stored it, or it was a duplicate).

        What ``js.publish`` does, minus its per-request costs (a random token from
        ``os.urandom``, ``asyncio.wait_for``): replies come to one wildcard inbox per
        connection, keyed by a counter, and a timer handle bounds the wait. Many publishes
        are in flight on the connection at once (pipelined); each waits for its own ack.
        """
        link = link or self._home
        await self._connect(link)
        s = self._settings
        headers = {k: v for k, v in message.attributes.items() if k not in _RESERVED}
        if message.delivery_id:
            headers["Nats-Msg-Id"] = message.delivery_id
        headers["Nats-Expected-Stream"] = s.stream
        try:
            prefix = await link.reply_inbox()
            link.seq += 1
            token = str(link.seq)
            loop = asyncio.get_running_loop()
            future: asyncio.Future[Any] = loop.create_future()
            link.acks[token] = future
            timer = loop.call_later(s.publish_timeout, _expire, future)
            try:
                await link.nc.publish(s.subject, message.body, reply=prefix + token,
                                      headers=headers)
                reply = await future
            finally:
                timer.cancel()
                link.acks.pop(token, None)
            if reply.headers and reply.headers.get("Status") == "503":
                raise TransportError(f"no JetStream stream answers on {s.subject}",
                                     plugin=self.name)
            # a PubAck is {"stream":..,"seq":..[,"duplicate":true]}; parse only an error
            if b'"error"' in reply.data and "error" in (ack := json.loads(reply.data)):
                error = ack["error"]
                raise TransportError(
                    f"publish refused by JetStream: {error.get('code')} "
                    f"{error.get('description', '')}".strip(), plugin=self.name)
        except TransportError:
            raise
        except Exception as exc:
            raise TransportError(f"publish not confirmed: {type(exc).__name__}",
                                 plugin=self.name) from exc

    def _publish(self, message: Message) -> None:
        self._run(self._apublish(message), timeout=self._settings.publish_timeout + 5)

    async def publish_async(self, message: Message) -> None:
        """``publish`` on the caller's event loop, over that loop's own connection."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            link = self._home
        else:
            found = self._links.get(loop)
            link = found if found is not None else self._links.setdefault(loop, _Link())
        await self._apublish(message, link)

    async def aclose(self) -> None:
        """Close the connection ``publish_async`` opened on the running event loop."""
        link = self._links.pop(asyncio.get_running_loop(), None)
        if link is not None and link.nc is not None:
            with contextlib.suppress(Exception):
                await link.nc.close()

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
            out: list[tuple[bytes, dict[str, str]]] = []
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

        for loop, link in list(self._links.items()):
            self._links.pop(loop, None)
            if link.nc is None or loop.is_closed() or not loop.is_running():
                continue  # a stopped loop: its tasks and sockets went with it
            with contextlib.suppress(Exception):
                running = asyncio.get_running_loop()
                if running is loop:
                    continue  # cannot block this loop; use ``await aclose()`` there
            future = asyncio.run_coroutine_threadsafe(link.nc.close(), loop)
            with contextlib.suppress(Exception):
                future.result(timeout=5)
        if self._loop.is_running():
            for step in (shutdown, cancel_rest):
                with contextlib.suppress(TransportError):
                    self._run(step(), timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            if not self._thread.is_alive():
                self._loop.close()
