"""The receiver's ASGI app: ``POST /hooks/{source}``, ``/healthz``, ``/readyz``, ``/metrics``.

A delivery goes through these checks, in this order, and the first that fails answers:

======  ==================  ========================================================
status  outcome label       when
======  ==================  ========================================================
404     unknown-source      no installed or configured source of that name
403     no-auth-configured  the source has no ``[receiver.sources.NAME]`` (fail closed)
401     unauthenticated     API key missing/wrong (checked before the body is read)
429     rate-limited        the source's ``rate_limit`` is exceeded
415     bad-content-type    not one of the source's ``content_types``
413     too-large           Content-Length or the body read so far exceeds the limit
408     timeout             the body did not arrive within ``request_timeout``
401     bad-signature/...   HMAC signature missing, wrong, or (Zendesk) stale
400     bad-json            the body is not a JSON object
503     unavailable         the transport did not confirm the publish (Retry-After)
202     accepted            the transport confirmed the publish
======  ==================  ========================================================

Nothing is parsed before authentication and nothing is published before every check passed.
The message published is the raw body, byte for byte; its attributes carry ``source``,
``delivery_id``, ``received_at`` and a few delivery headers (``h-<name>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ticketscan.components import Message, Transport
from ticketscan.steps import delivery_id_for

from .auth import Refusal, check_api_key, check_jira_signature, check_zendesk_signature
from .settings import ReceiverSettings, SourceAuth

__all__ = ["DELIVERY_HEADERS", "Metrics", "create_app"]

log = logging.getLogger("ticketscan.receiver")

#: Delivery headers passed on as ``h-<name>`` attributes (ids, never credentials).
DELIVERY_HEADERS = (
    "x-atlassian-webhook-identifier",
    "x-atlassian-webhook-retry",
    "x-zendesk-webhook-id",
    "x-zendesk-webhook-invocation-id",
    "x-zendesk-account-id",
)
_ID_HEADERS = ("x-atlassian-webhook-identifier", "x-zendesk-webhook-invocation-id")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,200}$")


class Metrics:
    """The receiver's Prometheus metrics, in their own registry (one per app)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "ticketscan_receiver_requests", "Webhook deliveries by source and outcome.",
            ["source", "outcome"], registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "ticketscan_receiver_publish_seconds",
            "Time until the transport confirmed a publish.", ["transport"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.queue_errors = Counter(
            "ticketscan_receiver_queue_errors", "Publishes the transport failed or timed out.",
            ["transport"], registry=self.registry,
        )
        self.in_flight = Gauge(
            "ticketscan_receiver_in_flight", "Deliveries being handled now.",
            registry=self.registry,
        )


class _Bucket:
    """A token bucket: ``rate`` per second, bursts up to twice that."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, 2 * rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class _BodyTooLarge(Exception):
    pass


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def create_app(
    transport: Transport,
    settings: ReceiverSettings,
    sources: Iterable[str],
    *,
    metrics: Metrics | None = None,
    close_transport: bool = True,
    ready_check: Callable[[], str | None] | None = None,
) -> Starlette:
    """The receiver app for ``sources`` (installed source plugins) publishing to ``transport``.

    ``ready_check`` (optional) returns why the service is not ready yet, or None; ``/readyz``
    asks it after the transport (the one-machine mode waits for its worker this way).
    """
    metrics = metrics or Metrics()
    known = set(sources) | set(settings.sources)
    buckets = {
        name: _Bucket(auth.rate_limit)
        for name, auth in settings.sources.items()
        if auth.rate_limit
    }
    secrets = {
        name: [s.get_secret_value() for s in auth.secrets]
        for name, auth in settings.sources.items()
    }
    transport_name = getattr(transport, "name", "transport")
    # A transport with a native async client may offer ``async def publish_async(message)``
    # (same contract as ``publish``); otherwise ``publish`` runs in a worker thread.
    native = getattr(transport, "publish_async", None)

    async def publish(message: Message) -> None:
        if native is not None:
            await native(message)
        else:
            await anyio.to_thread.run_sync(transport.publish, message)

    counters: dict[tuple[str, str], Any] = {}

    def count(source: str, outcome: str) -> None:
        child = counters.get((source, outcome))
        if child is None:
            child = counters[(source, outcome)] = metrics.requests.labels(source, outcome)
        child.inc()

    publish_histogram = metrics.publish_seconds.labels(transport_name)

    def refuse(source: str, refusal: Refusal) -> Response:
        count(source, refusal.outcome)
        log.info("refused %s delivery: %d %s", source, refusal.status, refusal.reason)
        headers = {}
        if refusal.status == 503:
            headers["Retry-After"] = str(settings.retry_after)
        return JSONResponse(
            {"error": refusal.reason, "outcome": refusal.outcome}, refusal.status, headers=headers
        )

    async def read_body(request: Request, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def hook(request: Request) -> Response:
        source = request.path_params["source"]
        if source not in known:
            return refuse("unknown", Refusal(404, "unknown-source", f"no source named {source!r}"))
        auth: SourceAuth | None = settings.sources.get(source)
        if auth is None:
            return refuse(source, Refusal(
                403, "no-auth-configured",
                f"source {source!r} has no [receiver.sources.{source}] section (fail closed)",
            ))
        scheme = auth.scheme(source)
        # one pass over the raw headers (Starlette's Headers.get scans the list on every call)
        headers = {k.decode("latin-1"): v.decode("latin-1")
                   for k, v in request.scope["headers"]}
        if scheme == "api-key":
            refusal = check_api_key(
                headers, request.query_params, secrets[source], header=auth.header,
                allow_query_token=auth.allow_query_token,
            )
            if refusal:
                return refuse(source, refusal)
        bucket = buckets.get(source)
        if bucket is not None and not bucket.take():
            return refuse(source, Refusal(429, "rate-limited",
                                          f"more than {auth.rate_limit:g} requests/s"))
        content_type = _media_type(headers.get("content-type", ""))
        if content_type not in auth.content_types:
            return refuse(source, Refusal(
                415, "bad-content-type",
                f"content type {content_type or 'missing'!r} is not accepted "
                f"(expected {', '.join(auth.content_types)})",
            ))
        limit = settings.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return refuse(source, Refusal(400, "bad-request", "invalid Content-Length"))
            if int(declared) > limit:
                return refuse(source, Refusal(413, "too-large", f"body exceeds {limit} bytes"))
        try:
            async with asyncio.timeout(settings.request_timeout):
                body = await read_body(request, limit)
        except _BodyTooLarge:
            return refuse(source, Refusal(413, "too-large", f"body exceeds {limit} bytes"))
        except TimeoutError:
            return refuse(source, Refusal(408, "timeout", "the body did not arrive in time"))
        except ClientDisconnect:
            count(source, "client-disconnected")
            return Response(status_code=400)
        if scheme == "jira-hmac":
            refusal = check_jira_signature(headers, body, secrets[source])
        elif scheme == "zendesk-hmac":
            refusal = check_zendesk_signature(headers, body, secrets[source],
                                              replay_window=auth.replay_window)
        else:
            refusal = None
        if refusal:
            return refuse(source, refusal)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return refuse(source, Refusal(400, "bad-json", "the body is not valid JSON"))
        if not isinstance(payload, dict):
            return refuse(source, Refusal(400, "bad-json", "the body must be a JSON object"))
        delivery_id = ""
        for name in _ID_HEADERS:
            value = headers.get(name, "")
            if value and _SAFE_ID.match(value):
                delivery_id = value
                break
        if not delivery_id:
            delivery_id = delivery_id_for(source, body)
        attributes = {
            "source": source,
            "delivery_id": delivery_id,
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        for name in DELIVERY_HEADERS:
            value = headers.get(name)
            if value and _SAFE_ID.match(value):
                attributes[f"h-{name}"] = value
        message = Message(body=body, attributes=attributes)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(settings.request_timeout):
                await publish(message)
        except Exception as exc:
            metrics.queue_errors.labels(transport_name).inc()
            reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.warning("publish of %s delivery %s failed: %s", source, delivery_id,
                        str(exc) or reason)
            return refuse(source, Refusal(
                503, "unavailable", f"the queue did not confirm the event ({reason}); retry later",
            ))
        publish_histogram.observe(time.perf_counter() - started)
        count(source, "accepted")
        return JSONResponse({"status": "accepted", "delivery_id": delivery_id}, 202)

    async def tracked_hook(request: Request) -> Response:
        metrics.in_flight.inc()
        try:
            return await hook(request)
        finally:
            metrics.in_flight.dec()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with asyncio.timeout(5):
                await asyncio.to_thread(transport.ping)
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            return JSONResponse({"status": "unavailable", "transport": transport_name,
                                 "error": reason}, 503)
        waiting = ready_check() if ready_check is not None else None
        if waiting:
            return JSONResponse({"status": "starting", "transport": transport_name,
                                 "error": waiting}, 503)
        return JSONResponse({"status": "ready", "transport": transport_name})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def not_allowed(request: Request) -> Response:
        return JSONResponse({"error": "use POST"}, 405, headers={"Allow": "POST"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_transport:
                await asyncio.to_thread(transport.close)

    app = Starlette(
        routes=[
            Route("/hooks/{source}", tracked_hook, methods=["POST"]),
            Route("/hooks/{source}", not_allowed, methods=["GET", "PUT", "DELETE", "PATCH"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.transport = transport
    return app
