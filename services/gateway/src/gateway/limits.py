"""Protection: per-channel quotas, the in-flight limit that sheds load at once, the request deadline.

**Quotas** are token buckets kept in each replica's memory, each replica taking its share of a channel's
quota: `rate_per_second / replicas` with room for `burst / replicas`, where `replicas` is the number of
gateway replicas alive (each writes a heartbeat row every few seconds; see `ReplicaHeartbeat`). Why not a
shared counter: a database or Redis round trip per request would cost the synchronous path more than all
its checks together (DESIGN.md section 7), and a limiter that fails when its store is slow turns an
overload into an outage. The price: when a channel's traffic reaches the replicas unevenly (few long-lived
connections behind a connection-level balancer), it gets somewhat less than its whole quota; the burst
absorbs short imbalances, and a count that changes (autoscaling) reaches every replica within a heartbeat.

**The in-flight limit** is a pure-ASGI middleware counting the requests this replica is working on: past
`max_in_flight` a new request is answered 503 `OVERLOADED` at once (never queued into a timeout), and one
channel (by its `X-Channel-Id`) may hold at most `max_in_flight_per_channel` of them, so a flood from one
channel leaves room for the others. Health and metrics requests are never counted nor refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import socket
import time
import uuid
from urllib.parse import unquote_to_bytes

import asyncpg
import orjson
from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.channels import Channel
from gateway.errors import CATALOGUE, message
from topup_platform.logging import get_logger

log = get_logger(__name__)

THROTTLED = Counter("topup_gateway_throttled_total", "Requests refused by a channel's quota", ["channel"])
SHED = Counter("topup_gateway_shed_total", "Requests refused at once because too many were in flight", ["scope"])
IN_FLIGHT = Gauge("topup_gateway_in_flight", "Channel API requests in flight in this replica")
REPLICAS = Gauge("topup_gateway_replicas", "Gateway replicas alive, as this replica counts them")


class TokenBucket:
    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def resize(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = min(self.tokens, capacity)

    def take(self, now: float) -> float:
        """0 when a token was taken; otherwise the seconds until one will be there."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class QuotaLimiter:
    """Per-channel token buckets holding this replica's share of each channel's quota."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[int, int, int, TokenBucket]] = {}
        self.replicas = 1

    def set_replicas(self, count: int) -> None:
        self.replicas = max(1, count)
        REPLICAS.set(self.replicas)

    def check(self, channel: Channel, now: float | None = None) -> float:
        """0 if the request may go on; otherwise the seconds to wait (for `Retry-After`)."""
        now = time.monotonic() if now is None else now
        entry = self._buckets.get(channel.channel_id)
        n = self.replicas
        if entry is None or entry[:3] != (channel.rate_per_second, channel.burst, n):
            rate, capacity = channel.rate_per_second / n, max(1.0, channel.burst / n)
            if entry is None:
                bucket = TokenBucket(rate, capacity, now)
            else:
                bucket = entry[3]
                bucket.resize(rate, capacity)
            entry = (channel.rate_per_second, channel.burst, n, bucket)
            self._buckets[channel.channel_id] = entry
        wait = entry[3].take(now)
        if wait:
            THROTTLED.labels(channel.channel_id).inc()
        return wait


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


class ReplicaHeartbeat:
    """Writes this replica's heartbeat and counts the replicas alive (seen within three heartbeats)."""

    def __init__(self, pool: asyncpg.Pool, limiter: QuotaLimiter, interval: float) -> None:
        self.pool = pool
        self.limiter = limiter
        self.interval = interval
        self.replica_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._stopping = asyncio.Event()

    async def beat(self) -> int:
        async with self.pool.acquire() as conn:
            count: int = await conn.fetchval(
                """WITH me AS (INSERT INTO gateway_replicas (replica_id) VALUES ($1)
                               ON CONFLICT (replica_id) DO UPDATE SET seen_at = now()),
                        gone AS (DELETE FROM gateway_replicas
                                 WHERE seen_at < now() - make_interval(secs => $2) AND replica_id <> $1)
                   SELECT 1 + count(*) FROM gateway_replicas
                   WHERE replica_id <> $1 AND seen_at >= now() - make_interval(secs => $2)""",
                self.replica_id, 3 * self.interval)
        if count != self.limiter.replicas:
            log.info("gateway replicas alive", replicas=count)
        self.limiter.set_replicas(count)
        return count

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.beat()
            except Exception:
                log.exception("replica heartbeat failed; keeping the previous count")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
        with contextlib.suppress(Exception):
            async with self.pool.acquire() as conn:
                await conn.execute("DELETE FROM gateway_replicas WHERE replica_id = $1", self.replica_id)

    async def stop(self) -> None:
        self._stopping.set()


_EXEMPT = ("/healthz", "/readyz", "/metrics")
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


def has_control_characters(scope: Scope) -> bool:
    """A percent-encoded control character (%00 and the like) in the path or the query: nothing downstream
    can store or compare it, so it is refused here (400) rather than failing there."""
    raw: bytes = scope.get("raw_path") or b""
    query: bytes = scope.get("query_string") or b""
    if b"%" not in raw and b"%" not in query:
        return bool(_CONTROL.search(raw + query))
    return bool(_CONTROL.search(unquote_to_bytes(raw + b"?" + query)))


def error_body(scope: Scope, code: str) -> bytes:
    spec = CATALOGUE[code]
    lang = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"accept-language"), None)
    return orjson.dumps({"code": code, "message": message(spec, lang),
                         "request_id": scope.get("state", {}).get("request_id", "")})


async def send_error(scope: Scope, send: Send, code: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = error_body(scope, code)
    await send({"type": "http.response.start", "status": CATALOGUE[code].http_status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class LoadShedMiddleware:
    """Counts requests in flight; past the limits, answers 503 OVERLOADED at once. Also puts a deadline on
    channel API request: past it, 503 UPSTREAM_TIMEOUT (if nothing was sent yet)."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int, max_per_channel: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_per_channel = max_per_channel
        self.timeout_seconds = timeout_seconds
        self.in_flight = 0
        self.per_channel: dict[bytes, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _EXEMPT:
            await self.app(scope, receive, send)
            return
        if has_control_characters(scope):
            await send_error(scope, send, "INVALID_REQUEST")
            return
        channel = next((v for k, v in scope["headers"] if k == b"x-channel-id"), b"")[:64]
        held = self.per_channel.get(channel, 0)
        if self.in_flight >= self.max_in_flight or held >= self.max_per_channel:
            SHED.labels("global" if self.in_flight >= self.max_in_flight else "channel").inc()
            await send_error(scope, send, "OVERLOADED", [(b"retry-after", b"1")])
            return
        self.in_flight += 1
        self.per_channel[channel] = held + 1
        IN_FLIGHT.set(self.in_flight)
        started = False

        async def send_wrapper(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            # staff's long exports (a voucher batch's CSV) are not cut short
            async with asyncio.timeout(None if scope["path"].startswith("/admin/") else self.timeout_seconds):
                await self.app(scope, receive, send_wrapper)
        except TimeoutError:
            log.warning("request deadline passed", path=scope["path"])
            if not started:
                await send_error(scope, send, "UPSTREAM_TIMEOUT")
        finally:
            self.in_flight -= 1
            left = self.per_channel[channel] - 1
            if left:
                self.per_channel[channel] = left
            else:
                del self.per_channel[channel]
            IN_FLIGHT.set(self.in_flight)
