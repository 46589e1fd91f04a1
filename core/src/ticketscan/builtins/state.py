"""Built-in state store ``sqlite``: alert-once memory in one SQLite file (the embedded default).

Safe for several processes on one machine (WAL mode, a busy timeout); for a cluster of
workers use a shared store such as ``redis`` (plugin ``ticketscan-redis-state``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from ticketscan.components import ComponentSettings, StateStore
from ticketscan.delivery import AlertRecord

__all__ = ["SqliteStateStore", "default_state_path"]


def default_state_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ticketscan" / "state.db"


class SqliteStateStore(StateStore):
    """One table ``alerts(key, first_alerted, last_alerted, verified, count)``."""

    name = "sqlite"
    description = "alert-once memory in a local SQLite file"

    class Settings(ComponentSettings):
        path: str | None = Field(
            default=None,
            description="Database file (default: $XDG_STATE_HOME/ticketscan/state.db).",
        )
        timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for a lock.")

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        super().__init__(settings)
        self._db: sqlite3.Connection | None = None

    @property
    def path(self) -> Path:
        settings = self.settings
        assert isinstance(settings, SqliteStateStore.Settings)
        return Path(settings.path).expanduser() if settings.path else default_state_path()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            settings = self.settings
            assert isinstance(settings, SqliteStateStore.Settings)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=settings.timeout, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS alerts (key TEXT PRIMARY KEY, first_alerted REAL"
                " NOT NULL, last_alerted REAL NOT NULL, verified TEXT NOT NULL,"
                " count INTEGER NOT NULL)"
            )
            self._db = db
        return self._db

    def _get(self, keys: Sequence[str]) -> dict[str, AlertRecord]:
        db = self._conn()
        out: dict[str, AlertRecord] = {}
        for i in range(0, len(keys), 500):
            part = list(keys[i : i + 500])
            marks = ",".join("?" * len(part))
            rows = db.execute(
                "SELECT key, first_alerted, last_alerted, verified, count FROM alerts"  # noqa: S608
                f" WHERE key IN ({marks})",
                part,
            )
            for key, first, last, verified, count in rows:
                out[key] = AlertRecord(key, first, last, verified, count)
        return out

    def _put(self, records: Sequence[AlertRecord]) -> None:
        db = self._conn()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT OR REPLACE INTO alerts (key, first_alerted, last_alerted, verified, count)"
                " VALUES (?, ?, ?, ?, ?)",
                [(r.key, r.first_alerted, r.last_alerted, r.verified, r.count) for r in records],
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
