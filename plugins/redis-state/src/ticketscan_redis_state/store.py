"""Redis state store: one hash per alert key under a prefix, optional expiry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, SecretStr
from ticketscan.components import ComponentSettings, StateStore
from ticketscan.delivery import AlertRecord

__all__ = ["RedisStateStore"]


class RedisStateStore(StateStore):
    """Keys ``<prefix><alert key>`` holding hashes (first/last alerted, verified, count)."""

    name = "redis"
    description = "alert-once memory in Redis (shared by every worker)"

    class Settings(ComponentSettings):
        url: str = Field(default="redis://127.0.0.1:6379/0", description="redis:// or rediss://")
        password: SecretStr | None = Field(default=None, description="By reference.")
        prefix: str = "ticketscan:alert:"
        ttl_days: float | None = Field(
            default=None, gt=0, description="Forget an alert after this many days (none: keep)."
        )
        timeout: float = Field(default=5.0, gt=0)

    def __init__(self, settings: ComponentSettings | None = None) -> None:
        super().__init__(settings)
        self._client: Any = None

    @property
    def _s(self) -> RedisStateStore.Settings:
        s = self.settings
        assert isinstance(s, RedisStateStore.Settings)
        return s

    def _redis(self) -> Any:
        if self._client is None:
            import redis

            s = self._s
            self._client = redis.Redis.from_url(
                s.url,
                password=s.password.get_secret_value() if s.password else None,
                socket_timeout=s.timeout,
                socket_connect_timeout=s.timeout,
                decode_responses=True,
            )
        return self._client

    def _get(self, keys: Sequence[str]) -> dict[str, AlertRecord]:
        pipe = self._redis().pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(self._s.prefix + key)
        out: dict[str, AlertRecord] = {}
        for key, data in zip(keys, pipe.execute(), strict=True):
            if data:
                out[key] = AlertRecord.from_dict({"key": key, **data})
        return out

    def _put(self, records: Sequence[AlertRecord]) -> None:
        s = self._s
        pipe = self._redis().pipeline(transaction=True)
        for r in records:
            name = s.prefix + r.key
            pipe.hset(name, mapping={
                "first_alerted": r.first_alerted, "last_alerted": r.last_alerted,
                "verified": r.verified, "count": r.count,
            })
            if s.ttl_days:
                pipe.expire(name, int(s.ttl_days * 86400))
        pipe.execute()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
