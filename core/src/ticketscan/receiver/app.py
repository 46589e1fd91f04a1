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

``POST /hooks/{source}`` is served by a plain ASGI handler (no Starlette Request, router or
middleware on that path: it is the only hot path); everything else is an ordinary Starlette
app. Per-source settings (auth scheme, secrets as bytes, accepted content types, the headers
to look at, rate-limit bucket, metric children) are prepared once in :func:`create_app`.
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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

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
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ticketscan.components import Message, Transport
from ticketscan.steps import delivery_id_for

from .auth import (
    Refusal,
    check_api_key,
    check_jira_signature,
    check_zendesk_signature,
    prepare_secrets,
)
from .settings import ReceiverSettings, SourceAuth

__all__ = ["DELIVERY_HEADERS", "Metrics", "ReceiverApp", "create_app"]

log = logging.getLogger("ticketscan.receiver")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

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
#: Headers each scheme reads (besides content type/length and the delivery headers).
_AUTH_HEADERS = {
    "jira-hmac": ("x-hub-signature",),
    "zendesk-hmac": ("x-zendesk-webhook-signature", "x-zendesk-webhook-signature-timestamp"),
    "api-key": (),
    "none": (),
}
_JSON_HEADERS = [(b"content-type", b"application/json")]


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
        #: Deliveries being handled now; a plain int (event loop only), read at scrape time.
        self.in_flight_count = 0
        self.in_flight.set_function(lambda: self.in_flight_count)


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


class _Disconnected(Exception):
    pass


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


class _Source:
    """One configured source, prepared once: nothing per request but the request itself."""

    __slots__ = ("accepted", "allow_query_token", "bucket", "content_types", "header", "macs",
                 "name", "rate_limit", "replay_window", "scheme", "secrets", "wanted")

    def __init__(self, name: str, auth: SourceAuth, accepted: Any) -> None:
        self.name = name
        self.scheme = auth.scheme(name)
        self.secrets = [s.get_secret_value() for s in auth.secrets]
        self.macs = prepare_secrets(self.secrets)  # keyed once, copied per request
        self.header = auth.header
        self.allow_query_token = auth.allow_query_token
        self.replay_window = auth.replay_window
        self.rate_limit = auth.rate_limit
        self.bucket = _Bucket(auth.rate_limit) if auth.rate_limit else None
        self.content_types = frozenset(c.strip().lower() for c in auth.content_types)
        self.accepted = accepted  # the ``accepted`` counter child
        names = ["content-type", "content-length", *DELIVERY_HEADERS,
                 *_AUTH_HEADERS[self.scheme]]
        if self.scheme == "api-key":
            names.append(auth.header.lower())
        #: raw (bytes) names of the headers this source reads; the others are never decoded
        self.wanted = frozenset(n.encode("latin-1") for n in names)


class ReceiverApp(Starlette):
    """Starlette for everything but ``POST /hooks/{source}``, which goes straight to a handler."""

    hook: Callable[[Scope, Receive, Send, str], Awaitable[None]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            if path.startswith("/hooks/"):
                name = path[7:]
                if name and "/" not in name:
                    await self.hook(scope, receive, send, name)
                    return
        await super().__call__(scope, receive, send)


def create_app(
    transport: Transport,
    settings: ReceiverSettings,
    sources: Iterable[str],
    *,
    metrics: Metrics | None = None,
    close_transport: bool = True,
    ready_check: Callable[[], str | None] | None = None,
) -> ReceiverApp:
    """The receiver app for ``sources`` (installed source plugins) publishing to ``transport``.

    ``ready_check`` (optional) returns why the service is not ready yet, or None; ``/readyz``
    asks it after the transport (the one-machine mode waits for its worker this way).
    """
    metrics = metrics or Metrics()
    known = set(sources) | set(settings.sources)
    configured = {
        name: _Source(name, auth, metrics.requests.labels(name, "accepted"))
        for name, auth in settings.sources.items()
    }
    transport_name = getattr(transport, "name", "transport")
    # A transport with a native async client may offer ``async def publish_async(message)``
    # (same contract as ``publish``); otherwise ``publish`` runs in a worker thread.
    native = getattr(transport, "publish_async", None)
    if native is None:
        async def publish(message: Message) -> None:
            await anyio.to_thread.run_sync(transport.publish, message)
    else:
        publish = native
    timeout = settings.request_timeout
    limit = settings.max_body_bytes
    retry_after = [(b"retry-after", str(settings.retry_after).encode())]

    counters: dict[tuple[str, str], Any] = {}

    def count(source: str, outcome: str) -> None:
        child = counters.get((source, outcome))
        if child is None:
            child = counters[(source, outcome)] = metrics.requests.labels(source, outcome)
        child.inc()

    publish_histogram = metrics.publish_seconds.labels(transport_name)
    queue_errors = metrics.queue_errors.labels(transport_name)

    async def respond(send: Send, status: int, body: bytes,
                      extra: list[tuple[bytes, bytes]] | None = None) -> None:
        headers = [*_JSON_HEADERS, (b"content-length", b"%d" % len(body))]
        if extra:
            headers.extend(extra)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def refuse(send: Send, source: str, refusal: Refusal) -> None:
        count(source, refusal.outcome)
        log.info("refused %s delivery: %d %s", source, refusal.status, refusal.reason)
        body = json.dumps({"error": refusal.reason, "outcome": refusal.outcome},
                          ensure_ascii=False, separators=(",", ":")).encode()
        await respond(send, refusal.status, body, retry_after if refusal.status == 503 else None)

    async def read_body(receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _Disconnected
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise _BodyTooLarge
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def handle(scope: Scope, receive: Receive, send: Send, name: str) -> None:
        src = configured.get(name)
        if src is None:
            if name not in known:
                return await refuse(send, "unknown", Refusal(
                    404, "unknown-source", f"no source named {name!r}"))
            return await refuse(send, name, Refusal(
                403, "no-auth-configured",
                f"source {name!r} has no [receiver.sources.{name}] section (fail closed)",
            ))
        # one pass over the raw headers, decoding only those this source reads
        wanted = src.wanted
        headers = {k.decode("latin-1"): v.decode("latin-1")
                   for k, v in scope["headers"] if k in wanted}
        scheme = src.scheme
        if scheme == "api-key":
            query = (dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                    keep_blank_values=True))
                     if src.allow_query_token else {})
            refusal = check_api_key(headers, query, src.secrets, header=src.header,
                                    allow_query_token=src.allow_query_token)
            if refusal:
                return await refuse(send, name, refusal)
        if src.bucket is not None and not src.bucket.take():
            return await refuse(send, name, Refusal(
                429, "rate-limited", f"more than {src.rate_limit:g} requests/s"))
        content_type = _media_type(headers.get("content-type", ""))
        if content_type not in src.content_types:
            return await refuse(send, name, Refusal(
                415, "bad-content-type",
                f"content type {content_type or 'missing'!r} is not accepted "
                f"(expected {', '.join(sorted(src.content_types))})",
            ))
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return await refuse(send, name, Refusal(400, "bad-request",
                                                        "invalid Content-Length"))
            if int(declared) > limit:
                return await refuse(send, name, Refusal(413, "too-large",
                                                        f"body exceeds {limit} bytes"))
        # one deadline for reading the body and publishing (``request_timeout``)
        publishing = False
        try:
            async with asyncio.timeout(timeout):
                body = await read_body(receive)
                if scheme == "jira-hmac":
                    refusal = check_jira_signature(headers, body, src.macs)
                elif scheme == "zendesk-hmac":
                    refusal = check_zendesk_signature(headers, body, src.macs,
                                                      replay_window=src.replay_window)
                else:
                    refusal = None
                if refusal:
                    return await refuse(send, name, refusal)
                try:
                    payload = json.loads(body)
                except (ValueError, UnicodeDecodeError):
                    return await refuse(send, name, Refusal(400, "bad-json",
                                                            "the body is not valid JSON"))
                if not isinstance(payload, dict):
                    return await refuse(send, name, Refusal(400, "bad-json",
                                                            "the body must be a JSON object"))
                attributes = {
                    "source": name,
                    "delivery_id": "",
                    "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                }
                delivery_id = ""
                for header in DELIVERY_HEADERS:
                    value = headers.get(header)
                    if value and _SAFE_ID.match(value):
                        attributes["h-" + header] = value
                        if not delivery_id and header in _ID_HEADERS:
                            delivery_id = value
                if not delivery_id:
                    delivery_id = delivery_id_for(name, body)
                attributes["delivery_id"] = delivery_id
                message = Message(body=body, attributes=attributes)
                publishing = True
                started = time.perf_counter()
                await publish(message)
        except _BodyTooLarge:
            return await refuse(send, name, Refusal(413, "too-large",
                                                    f"body exceeds {limit} bytes"))
        except _Disconnected:
            count(name, "client-disconnected")
            return await respond(send, 400, b"")
        except Exception as exc:
            if not publishing:
                if isinstance(exc, TimeoutError):
                    return await refuse(send, name, Refusal(
                        408, "timeout", "the body did not arrive in time"))
                raise
            queue_errors.inc()
            reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.warning("publish of %s delivery %s failed: %s", name, delivery_id,
                        str(exc) or reason)
            return await refuse(send, name, Refusal(
                503, "unavailable", f"the queue did not confirm the event ({reason}); retry later",
            ))
        publish_histogram.observe(time.perf_counter() - started)
        src.accepted.inc()
        # the delivery id is _SAFE_ID-checked or "sha256:<hex>": nothing to escape
        await respond(send, 202, b'{"status":"accepted","delivery_id":"%s"}'
                      % delivery_id.encode())

    async def tracked_hook(scope: Scope, receive: Receive, send: Send, name: str) -> None:
        metrics.in_flight_count += 1
        try:
            await handle(scope, receive, send, name)
        finally:
            metrics.in_flight_count -= 1

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
            aclose = getattr(transport, "aclose", None)
            if close_transport and aclose is not None:
                # a transport holding connections on this event loop closes them here first
                with contextlib.suppress(Exception):
                    await aclose()
            if close_transport:
                await asyncio.to_thread(transport.close)

    app = ReceiverApp(
        routes=[
            # POST /hooks/{source} never reaches the router (ReceiverApp.__call__)
            Route("/hooks/{source}", not_allowed, methods=["GET", "PUT", "DELETE", "PATCH"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.hook = tracked_hook
    app.state.metrics = metrics
    app.state.transport = transport
    return app
