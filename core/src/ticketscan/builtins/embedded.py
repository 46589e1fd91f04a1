"""The ``embedded`` transport: a durable queue in one SQLite file (WAL), no server needed.

Tables: ``messages`` (the queue: body, attributes, attempts, when it becomes visible again),
``seen`` (delivery ids published within the dedup window) and ``dead_letters``.

* publish: one writer thread batches concurrent publishes into one transaction (group commit)
  and returns only after that transaction is on disk (``synchronous=FULL``), so an HTTP 202
  answered after ``publish`` returned survives a crash of the process.
* receive: takes up to N visible messages in one ``BEGIN IMMEDIATE`` transaction, hides them
  for ``visibility_timeout`` seconds and counts the attempt; a consumer that dies without
  acking gives its messages back when the timeout expires (at-least-once).
* dedup: a delivery id seen within ``dedup_window`` seconds is dropped at publish time.

Several processes may share the file (the receiver publishes, ``ticketscan worker`` consumes).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import queue
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import Field

from ticketscan.components import ComponentSettings, Message, Transport
from ticketscan.errors import TransportError

__all__ = ["EmbeddedTransport"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL,
    body BLOB NOT NULL,
    attributes TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease TEXT
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (visible_at, id);
CREATE TABLE IF NOT EXISTS seen (
    delivery_id TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_at ON seen (seen_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL,
    body BLOB NOT NULL,
    attributes TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    failed_at REAL NOT NULL
);
"""

_STOP = object()
#: Most ``?`` in one statement: SQLite's limit before 3.32 (newer allow 32766).
_MAX_VARS = 999


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _settle(batch: list[tuple[Message, Any]], error: BaseException | None) -> None:
    """Resolve the publishers of one batch.

    A waiter is a concurrent Future (sync ``publish``) or an ``(event loop, asyncio future)``
    pair (``publish_async``); the asyncio ones are resolved with ONE ``call_soon_threadsafe``
    per event loop and batch (not one wake-up per message).
    """
    by_loop: dict[Any, list[Any]] = {}
    for _, done in batch:
        if isinstance(done, concurrent.futures.Future):
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
        else:
            loop, future = done
            by_loop.setdefault(loop, []).append(future)
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is waiting
            loop.call_soon_threadsafe(_resolve, futures, error)


def _resolve(futures: list[Any], error: BaseException | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class EmbeddedTransport(Transport):
    """A durable SQLite (WAL) queue with visibility timeout, dedup window and dead letters."""

    name = "embedded"
    description = "durable SQLite queue in one file (default; no server needed)"

    class Settings(ComponentSettings):
        path: str = Field(
            default="ticketscan-queue.db",
            description="SQLite file of the queue (shared by receiver and worker).",
        )
        visibility_timeout: float = Field(
            default=300.0, gt=0,
            description="Seconds a received message stays hidden before it is redelivered.",
        )
        dedup_window: float = Field(
            default=86400.0, ge=0,
            description="Seconds during which a delivery id seen before is dropped.",
        )
        poll_interval: float = Field(
            default=0.02, gt=0, description="Seconds between polls while waiting in receive.",
        )
        max_batch: int = Field(
            default=256, ge=1, description="Most publishes committed in one transaction.",
        )

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        super().__init__(settings)
        settings = self.settings
        assert isinstance(settings, EmbeddedTransport.Settings)
        self.path = Path(settings.path).expanduser()
        self._local = threading.local()
        self._writer: threading.Thread | None = None
        self._pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._wakeup = threading.Condition()
        self._closed = False
        self._last_purge = 0.0
        conn = self._conn()
        conn.executescript(_SCHEMA)

    # -- connections -----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise TransportError(f"cannot open queue file {self.path}: {exc}",
                                 plugin=self.name) from exc
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._all_conns().append(conn)
        return conn

    def _all_conns(self) -> list[sqlite3.Connection]:
        conns: list[sqlite3.Connection] | None = getattr(self, "_conns", None)
        if conns is None:
            conns = []
            self._conns = conns
        return conns

    # -- publish (group commit) ------------------------------------------------------------

    def _publish(self, message: Message) -> None:
        if self._closed:
            raise TransportError("the queue is closed", plugin=self.name)
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._ensure_writer()
        self._pending.put((message, future))
        future.result(timeout=60)

    async def publish_async(self, message: Message) -> None:
        """``publish`` for an event loop: waits for the group commit without a thread hop."""
        import asyncio

        if self._closed:
            raise TransportError("the queue is closed", plugin=self.name)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._ensure_writer()
        self._pending.put((message, (loop, future)))
        await future

    def _ensure_writer(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            return
        with self._lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_loop, name="ticketscan-embedded-writer", daemon=True
                )
                self._writer.start()

    def _write_loop(self) -> None:
        settings = self.settings
        assert isinstance(settings, EmbeddedTransport.Settings)
        conn = self._connect()
        try:
            while True:
                first = self._pending.get()
                if first is _STOP:
                    return
                batch = [first]
                while len(batch) < settings.max_batch:
                    try:
                        item = self._pending.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        self._pending.put(_STOP)
                        break
                    batch.append(item)
                try:
                    self._commit(conn, [m for m, _ in batch], settings)
                except Exception as exc:
                    _settle(batch, TransportError(f"publish failed: {exc}", plugin=self.name))
                else:
                    _settle(batch, None)
                    with self._wakeup:
                        self._wakeup.notify_all()
        finally:
            conn.close()

    def _commit(
        self, conn: sqlite3.Connection, messages: list[Message],
        settings: EmbeddedTransport.Settings,
    ) -> None:
        """One transaction for the whole batch, with a handful of statements whatever its size.

        Each statement releases and re-takes the GIL; per-message statements made the writer
        thread fight the event loop for it. So: one ``SELECT ... IN (...)`` for the delivery
        ids already seen, then one multi-row ``INSERT`` each into ``seen`` and ``messages``.
        """
        now = time.time()
        horizon = now - settings.dedup_window
        rows: list[tuple[Any, ...]] = []
        fresh: dict[str, None] = {}
        for message in messages:
            did = message.delivery_id
            if did:
                if did in fresh:
                    continue  # the same delivery twice in one batch
                fresh[did] = None
            rows.append((did, message.body, json.dumps(message.attributes), now, now))
        conn.execute("BEGIN IMMEDIATE")
        try:
            ids = list(fresh)
            for part in _chunks(ids, _MAX_VARS):
                marks = ",".join("?" * len(part))
                for (did,) in conn.execute(
                    f"SELECT delivery_id FROM seen WHERE seen_at >= ? AND delivery_id IN ({marks})",  # noqa: S608 - placeholders only
                    (horizon, *part),
                ):
                    fresh.pop(did, None)  # a redelivery within the window: dropped
            if len(fresh) != len(ids):
                rows = [row for row in rows if not row[0] or row[0] in fresh]
            for part in _chunks(list(fresh), _MAX_VARS // 2):
                conn.execute(
                    "INSERT OR REPLACE INTO seen (delivery_id, seen_at) VALUES "  # noqa: S608
                    + ",".join(["(?, ?)"] * len(part)),
                    [v for did in part for v in (did, now)],
                )
            for part in _chunks(rows, _MAX_VARS // 5):
                conn.execute(
                    "INSERT INTO messages (delivery_id, body, attributes, enqueued_at, "  # noqa: S608
                    "visible_at) VALUES " + ",".join(["(?, ?, ?, ?, ?)"] * len(part)),
                    [v for row in part for v in row],
                )
            if now - self._last_purge > 60:
                conn.execute("DELETE FROM seen WHERE seen_at < ?", (horizon,))
                self._last_purge = now
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- consume ---------------------------------------------------------------------------

    def receive(self, max_messages: int = 1, timeout: float = 1.0) -> list[Message]:
        settings = self.settings
        assert isinstance(settings, EmbeddedTransport.Settings)
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            got = self._take(max_messages, settings)
            if got or time.monotonic() >= deadline:
                return got
            wait = min(settings.poll_interval, max(0.0, deadline - time.monotonic()))
            with self._wakeup:
                self._wakeup.wait(wait)

    def _take(self, max_messages: int, settings: EmbeddedTransport.Settings) -> list[Message]:
        conn = self._conn()
        now = time.time()
        try:
            # a cheap read first: no write lock while the queue is empty
            if conn.execute(
                "SELECT 1 FROM messages WHERE visible_at <= ? LIMIT 1", (now,)
            ).fetchone() is None:
                return []
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute(
                    "SELECT id, body, attributes, attempts FROM messages "
                    "WHERE visible_at <= ? ORDER BY visible_at, id LIMIT ?",
                    (now, max(1, max_messages)),
                ).fetchall()
                out = []
                for row_id, body, attributes, attempts in rows:
                    lease = uuid.uuid4().hex
                    conn.execute(
                        "UPDATE messages SET visible_at = ?, attempts = attempts + 1, lease = ? "
                        "WHERE id = ?",
                        (now + settings.visibility_timeout, lease, row_id),
                    )
                    out.append(
                        Message(body=bytes(body), attributes=json.loads(attributes),
                                handle=(row_id, lease), attempt=attempts + 1)
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise TransportError(f"receive failed: {exc}", plugin=self.name) from exc
        return out

    def _handle(self, message: Message) -> tuple[int, str]:
        if not (isinstance(message.handle, tuple) and len(message.handle) == 2):
            raise TransportError("message was not received from this queue", plugin=self.name)
        return message.handle

    def ack(self, message: Message) -> None:
        row_id, lease = self._handle(message)
        self._write("DELETE FROM messages WHERE id = ? AND lease = ?", (row_id, lease))

    def nack(self, message: Message, delay: float = 0.0) -> None:
        row_id, lease = self._handle(message)
        self._write(
            "UPDATE messages SET visible_at = ?, lease = NULL WHERE id = ? AND lease = ?",
            (time.time() + max(0.0, delay), row_id, lease),
        )
        with self._wakeup:
            self._wakeup.notify_all()

    def dead_letter(self, message: Message, error: str) -> None:
        row_id, lease = self._handle(message)
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO dead_letters (delivery_id, body, attributes, attempts, error, "
                    "failed_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (message.delivery_id, message.body, json.dumps(message.attributes),
                     message.attempt, error, time.time()),
                )
                conn.execute("DELETE FROM messages WHERE id = ? AND lease = ?", (row_id, lease))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise TransportError(f"dead-letter failed: {exc}", plugin=self.name) from exc

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        try:
            self._conn().execute(sql, params)
        except sqlite3.Error as exc:
            raise TransportError(f"queue write failed: {exc}", plugin=self.name) from exc

    # -- inspection ------------------------------------------------------------------------

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every dead-lettered message: delivery id, attributes, attempts, error, body."""
        rows = self._conn().execute(
            "SELECT delivery_id, body, attributes, attempts, error, failed_at FROM dead_letters "
            "ORDER BY id"
        ).fetchall()
        return [
            {"delivery_id": d, "body": bytes(b), "attributes": json.loads(a), "attempts": n,
             "error": e, "failed_at": t}
            for d, b, a, n, e, t in rows
        ]

    def depth(self) -> int:
        """Messages waiting or in flight."""
        return int(self._conn().execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    def ping(self) -> None:
        try:
            self._conn().execute("SELECT 1 FROM messages LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise TransportError(f"queue file {self.path} is not usable: {exc}",
                                 plugin=self.name) from exc
        if not os.access(self.path, os.W_OK):
            raise TransportError(f"queue file {self.path} is not writable", plugin=self.name)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None and self._writer.is_alive():
            self._pending.put(_STOP)
            self._writer.join(timeout=10)
        with self._lock:
            for conn in self._all_conns():
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all_conns().clear()
