"""Callbacks: a signed POST to the order's `notify_url` on every final status, retried until the channel
acknowledges it (DESIGN.md section 5): a 2xx whose body is empty, `success` (Alipay's word) or JSON
`{"code": "SUCCESS"}` (WeChat Pay's). A 2xx with any other body (an HTML page from a proxy or a login wall) is
not an acknowledgement, and the callback is retried.

Which statuses: `SUCCEEDED`, `FAILED`, `REFUNDED` and `REJECTED` (Alipay-style partners are told of final
states only; `UNDER_REVIEW`, `PENDING` and `PROCESSING` are not final, so no callback). A final status can
still change (`FAILED` → `REFUNDED` when the refund is paid out, `FAILED` → `SUCCEEDED` when reconciliation
finds BOSS did credit): each change is a new callback, and it supersedes an older one of the same order
that was not delivered yet (the channel needs the latest status, not a late old one).

How it holds:

* **Recorded exactly once, durably.** The order core publishes `OrderStatusChanged` (through its outbox) on
  `topup.orders.events.v1`; the gateway consumes it with the platform's idempotent consumer, and writes the
  callback job into its own schema in the same transaction as the inbox row. The job holds the exact body
  to send; a gateway restart loses nothing.
* **Delivered by any replica, one at a time.** Each replica's worker takes due jobs with a lease
  (`FOR UPDATE SKIP LOCKED`); one that dies mid-delivery loses its lease after `callback_lease_seconds`
  and another replica takes the job over. The replica that recorded a job sends it at once.
* **Never in the way.** Nothing on the order path waits for a callback: the order core only publishes an
  event; a slow or dead channel endpoint only fills this worker's own bounded concurrency.
* **A growing schedule.** After a failed attempt, the next one waits `callback_retry_seconds[n]` (10 s, then
  Alipay's 4 m, 10 m, 10 m, 1 h, 2 h, 6 h, 15 h by default); after the last, the job is given up (`gave_up`): the
  channel still has the status query, and staff can re-send (`POST /admin/v1/orders/{id}/callbacks/resend`).
* **Every attempt logged**: when, by which replica, for what (schedule or a named member of staff), how long,
  the HTTP status or the error, and the start of the answer (`GET /admin/v1/orders/{id}/callbacks`).

Signing: the contract's scheme with the channel's callback secret (made by us, given to the channel once):
`X-Channel-Id`, `X-Timestamp`, `X-Nonce`, `X-Signature` over `POST`, the notify_url's path and query, and the
body; plus `X-Key-Id` (which callback key signed) and `X-Notify-Id` (dedupe on it). The SDK checks it:
`topup_client.verify_callback`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter

from gateway import render
from gateway.callback_net import AddressGuard, GuardedTransport
from gateway.channels import ChannelRegistry
from gateway.settings import GatewaySettings
from topup.events.v1 import orders_pb2 as order_events
from topup.orders.v1 import orders_pb2
from topup_client.signing import HEADER_KEY_ID, HEADER_NOTIFY_ID, signed_headers
from topup_platform.consumer import EventConsumer, EventContext
from topup_platform.events import ORDERS_TOPIC
from topup_platform.kafka import ensure_topics, make_producer
from topup_platform.logging import get_logger

log = get_logger(__name__)

CONSUMER = "gateway-callbacks"
FINAL = frozenset({orders_pb2.ORDER_STATUS_SUCCEEDED, orders_pb2.ORDER_STATUS_FAILED,
                   orders_pb2.ORDER_STATUS_REFUNDED, orders_pb2.ORDER_STATUS_REJECTED})
ATTEMPTS = Counter("topup_gateway_callback_attempts_total", "Callback delivery attempts by outcome",
                   ["outcome"])
RECORDED = Counter("topup_gateway_callbacks_recorded_total", "Callbacks recorded (final statuses with a notify_url)")
GAVE_UP = Counter("topup_gateway_callbacks_given_up_total", "Callbacks given up after the whole schedule")
_EXCERPT = 512


def wants_callback(event: order_events.OrderStatusChanged) -> bool:
    return bool(event.order.notify_url) and event.order.status in FINAL


def callback_body(callback_id: str, order: orders_pb2.Order, at: datetime) -> bytes:
    return orjson.dumps({
        "notify_id": callback_id,
        "notify_type": "order.status",
        "notify_time": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "order": render.order(order),
    })


def is_acknowledgement(http_status: int | None, body: str | None) -> bool:
    """Whether a channel's answer acknowledges a callback: a 2xx whose body (surrounding whitespace aside) is
    empty, `success`, or a JSON object whose `code` is `SUCCESS`. (`body` is the start of the answer we keep;
    an acknowledgement is far shorter.)"""
    if http_status is None or not 200 <= http_status < 300:
        return False
    text = (body or "").strip()
    if text in ("", "success"):
        return True
    if not text.startswith("{"):
        return False
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and parsed.get("code") == "SUCCESS"


def not_acknowledged_reason(outcome: Outcome) -> str:
    """Why an attempt did not deliver, for the attempt log and `last_error`."""
    if outcome.error:
        return outcome.error
    if outcome.http_status is not None and 200 <= outcome.http_status < 300:
        return (f"HTTP {outcome.http_status} without an acknowledgement "
                '(the body must be empty, success or {"code":"SUCCESS"})')
    return f"HTTP {outcome.http_status}"


def next_state(attempts_done: int, delivered: bool, schedule: Sequence[float]) -> tuple[str, float | None]:
    """The job's state after its `attempts_done`-th attempt, and the delay before the next (if any)."""
    if delivered:
        return "delivered", None
    if attempts_done > len(schedule):
        return "gave_up", None
    return "pending", float(schedule[attempts_done - 1])


@dataclass(frozen=True, slots=True)
class Job:
    callback_id: uuid.UUID
    order_id: str
    channel_id: str
    notify_url: str
    body: bytes
    attempts: int
    trigger: str
    lease_token: uuid.UUID


@dataclass(frozen=True, slots=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    http_status: int | None
    error: str | None
    excerpt: str | None

    @property
    def delivered(self) -> bool:
        """Acknowledged by the channel (not merely a 2xx)."""
        return is_acknowledgement(self.http_status, self.excerpt)


class CallbackStore:
    """The callback jobs and their attempts (SQL)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @staticmethod
    async def record(conn: asyncpg.Connection, event_id: str, order: orders_pb2.Order) -> str | None:
        """In the consumer's transaction: a job for this final status; older undelivered ones are superseded."""
        callback_id = uuid.uuid4()
        now = datetime.now(UTC)
        await conn.execute(
            """UPDATE callbacks SET state = 'superseded', updated_at = now()
               WHERE order_id = $1 AND state = 'pending'""", order.order_id)
        inserted = await conn.fetchval(
            """INSERT INTO callbacks (callback_id, order_id, channel_id, status, notify_url, body, event_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING RETURNING true""",
            callback_id, order.order_id, order.channel_id,
            orders_pb2.OrderStatus.Name(order.status).removeprefix("ORDER_STATUS_"), order.notify_url,
            callback_body(str(callback_id), order, now), uuid.UUID(event_id))
        return str(callback_id) if inserted else None

    async def claim(self, limit: int, lease_seconds: float) -> list[Job]:
        token = uuid.uuid4()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """UPDATE callbacks c SET lease_token = $1, lease_until = now() + make_interval(secs => $2)
                   FROM (SELECT callback_id FROM callbacks
                         WHERE state = 'pending' AND next_attempt_at <= now()
                           AND (lease_until IS NULL OR lease_until < now())
                         ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
                   WHERE c.callback_id = due.callback_id
                   RETURNING c.callback_id, c.order_id, c.channel_id, c.notify_url, c.body, c.attempts,
                             c.next_trigger""",
                token, lease_seconds, limit)
        return [Job(r["callback_id"], r["order_id"], r["channel_id"], r["notify_url"], r["body"], r["attempts"],
                    r["next_trigger"], token) for r in rows]

    async def finish(self, job: Job, outcome: Outcome, replica_id: str, schedule: Sequence[float]) -> str:
        """Log the attempt; move the job on (unless it was superseded or taken over meanwhile)."""
        attempt = job.attempts + 1
        state, delay = next_state(attempt, outcome.delivered, schedule)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO callback_attempts (callback_id, attempt, trigger, replica_id, started_at, duration_ms,
                                                  http_status, error, response_excerpt)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                job.callback_id, attempt, job.trigger, replica_id, outcome.started_at, outcome.duration_ms,
                outcome.http_status, outcome.error, outcome.excerpt)
            await conn.execute(
                """UPDATE callbacks SET attempts = attempts + 1, state = $3, lease_token = NULL, lease_until = NULL,
                       next_attempt_at = CASE WHEN $4::float8 IS NULL THEN next_attempt_at
                                              ELSE now() + make_interval(secs => $4::float8) END,
                       next_trigger = 'schedule', last_error = $5, updated_at = now(),
                       delivered_at = CASE WHEN $3 = 'delivered' THEN now() ELSE delivered_at END
                   WHERE callback_id = $1 AND lease_token = $2 AND state = 'pending'""",
                job.callback_id, job.lease_token, state, delay,
                None if outcome.delivered else not_acknowledged_reason(outcome))
        return state

    async def for_order(self, order_id: str) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            jobs = await conn.fetch(
                """SELECT callback_id, order_id, channel_id, status, notify_url, state, attempts, next_attempt_at,
                          last_error, created_at, delivered_at, body FROM callbacks
                   WHERE order_id = $1 ORDER BY created_at""", order_id)
            attempts = await conn.fetch(
                """SELECT a.callback_id, a.attempt, a.trigger, a.replica_id, a.started_at, a.duration_ms,
                          a.http_status, a.error, a.response_excerpt
                   FROM callback_attempts a JOIN callbacks c USING (callback_id)
                   WHERE c.order_id = $1 ORDER BY a.attempt_id""", order_id)
        by_job: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for a in attempts:
            by_job.setdefault(a["callback_id"], []).append({
                "attempt": a["attempt"], "trigger": a["trigger"], "replica": a["replica_id"],
                "started_at": _iso(a["started_at"]), "duration_ms": a["duration_ms"], "http_status": a["http_status"],
                "error": a["error"], "response_excerpt": a["response_excerpt"]})
        return [{
            "callback_id": str(j["callback_id"]), "order_id": j["order_id"], "channel_id": j["channel_id"],
            "status": j["status"], "notify_url": j["notify_url"], "state": j["state"], "attempts": j["attempts"],
            "next_attempt_at": _iso(j["next_attempt_at"]) if j["state"] == "pending" else None,
            "last_error": j["last_error"], "created_at": _iso(j["created_at"]),
            "delivered_at": _iso(j["delivered_at"]) if j["delivered_at"] else None,
            "body": orjson.loads(j["body"]), "attempt_log": by_job.get(j["callback_id"], []),
        } for j in jobs]

    async def for_channel(self, channel_id: str, *, order_id: str | None, states: Sequence[str], limit: int,
                          after: tuple[datetime, uuid.UUID] | None) -> list[dict[str, Any]]:
        """The channel's own callbacks, newest first, keyset-paginated on (created_at, callback_id)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT callback_id, order_id, status, notify_url, state, attempts, next_attempt_at, created_at,
                          delivered_at, last_error FROM callbacks
                   WHERE channel_id = $1 AND ($2::text IS NULL OR order_id = $2)
                     AND (cardinality($3::text[]) = 0 OR state = ANY($3::text[]))
                     AND ($4::timestamptz IS NULL OR (created_at, callback_id) < ($4, $5::uuid))
                   ORDER BY created_at DESC, callback_id DESC LIMIT $6""",
                channel_id, order_id, list(states), after[0] if after else None, after[1] if after else None, limit)
        # the page's keys at full precision (jobs recorded in one transaction share their created_at)
        return [{**_notification(r), "_key": (r["created_at"].isoformat(), str(r["callback_id"]))} for r in rows]

    async def notification(self, channel_id: str, callback_id: uuid.UUID) -> dict[str, Any] | None:
        """One of the channel's callbacks with its attempts (what its endpoint answered each time)."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT callback_id, order_id, status, notify_url, state, attempts, next_attempt_at, created_at,
                          delivered_at, last_error, body FROM callbacks
                   WHERE callback_id = $1 AND channel_id = $2""", callback_id, channel_id)
            if row is None:
                return None
            attempts = await conn.fetch(
                """SELECT attempt, trigger, started_at, duration_ms, http_status, error, response_excerpt
                   FROM callback_attempts WHERE callback_id = $1 ORDER BY attempt_id""", callback_id)
        return {**_notification(row), "body": orjson.loads(row["body"]), "attempt_log": [{
            "attempt": a["attempt"], "trigger": a["trigger"], "at": _iso(a["started_at"]),
            "duration_ms": a["duration_ms"], "http_status": a["http_status"], "error": a["error"],
            "response_excerpt": a["response_excerpt"],
            "acknowledged": a["error"] is None and is_acknowledgement(a["http_status"], a["response_excerpt"]),
        } for a in attempts]}

    async def replay(self, channel_id: str, callback_id: uuid.UUID) -> bool:
        """Send one of the channel's callbacks again now, as it was (same notify_id and body), whatever its
        state; the attempt log says the channel asked. False if the channel has no such callback."""
        async with self.pool.acquire() as conn:
            done = await conn.fetchval(
                """UPDATE callbacks SET state = 'pending', next_attempt_at = now(), next_trigger = 'replay:channel',
                       updated_at = now()
                   WHERE callback_id = $1 AND channel_id = $2 RETURNING true""", callback_id, channel_id)
        return bool(done)

    async def resend(self, order_id: str, staff_id: str) -> str | None:
        """Send the order's latest callback again, now (whatever its state). None if it has none."""
        async with self.pool.acquire() as conn:
            callback_id = await conn.fetchval(
                """UPDATE callbacks SET state = 'pending', next_attempt_at = now(), next_trigger = $2,
                       updated_at = now()
                   WHERE callback_id = (SELECT callback_id FROM callbacks WHERE order_id = $1
                                        ORDER BY created_at DESC LIMIT 1)
                   RETURNING callback_id""", order_id, f"resend:{staff_id}")
        return str(callback_id) if callback_id else None


def _notification(r: asyncpg.Record) -> dict[str, Any]:
    """A callback as the channel API shows it (its id is the notify_id of the callback's body)."""
    return {
        "notify_id": str(r["callback_id"]), "order_id": r["order_id"], "order_status": r["status"],
        "notify_url": r["notify_url"], "state": r["state"], "attempts": r["attempts"],
        "created_at": _iso(r["created_at"]),
        "next_attempt_at": _iso(r["next_attempt_at"]) if r["state"] == "pending" else None,
        "delivered_at": _iso(r["delivered_at"]) if r["delivered_at"] else None, "last_error": r["last_error"],
    }


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def path_with_query(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + ("?" + parts.query if parts.query else "")


class CallbackService:
    """The consumer that records callback jobs and the worker that delivers them (one per replica)."""

    def __init__(self, settings: GatewaySettings, pool: asyncpg.Pool, registry: ChannelRegistry,
                 replica_id: str, guard: AddressGuard) -> None:
        self.settings = settings
        self.pool = pool
        self.registry = registry
        self.replica_id = replica_id
        self.store = CallbackStore(pool)
        # connections only to addresses the guard allows (checked at connect time), no redirect followed
        self.http = httpx.AsyncClient(transport=GuardedTransport(guard), timeout=settings.callback_timeout_seconds,
                                      follow_redirects=False, trust_env=False,
                                      headers={"User-Agent": "unicom-topup-gateway/1 (callback)"})
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._consumer: EventConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    # --- recording (the consumer) -------------------------------------------------------------------

    async def on_status_changed(self, ctx: EventContext, event: order_events.OrderStatusChanged) -> None:
        order = event.order
        channel = await self.registry.get(order.channel_id)
        if channel is None or not channel.callbacks_enabled:
            log.info("no callback: the channel is unknown or has callbacks off", channel=order.channel_id,
                     order_id=order.order_id)
            return
        callback_id = await self.store.record(ctx.conn, ctx.envelope.event_id, order)
        if callback_id:
            RECORDED.inc()
            log.info("callback recorded", order_id=order.order_id, callback_id=callback_id,
                     status=orders_pb2.OrderStatus.Name(order.status))
            ctx.after_commit(self._wake.set)

    def wake(self) -> None:
        """Look for due callbacks now (a re-send, a new job)."""
        self._wake.set()

    # --- delivering -------------------------------------------------------------------------------------

    async def attempt(self, job: Job) -> Outcome:
        started_at, started = datetime.now(UTC), time.perf_counter()
        channel = await self.registry.get(job.channel_id)
        key = channel.callback_key if channel else None

        def outcome(status: int | None, error: str | None, excerpt: str | None = None) -> Outcome:
            return Outcome(started_at, int((time.perf_counter() - started) * 1000), status, error, excerpt)

        if key is None:
            return outcome(None, "the channel has no callback key")
        headers = {"Content-Type": "application/json", HEADER_KEY_ID: key.key_id,
                   HEADER_NOTIFY_ID: str(job.callback_id),
                   **signed_headers(job.channel_id, key.secret, "POST", path_with_query(job.notify_url), job.body)}
        try:
            async with self.http.stream("POST", job.notify_url, content=job.body, headers=headers) as reply:
                excerpt = b""
                async for chunk in reply.aiter_raw():
                    excerpt += chunk
                    if len(excerpt) >= _EXCERPT:
                        break
                return outcome(reply.status_code, None, excerpt[:_EXCERPT].decode("utf-8", errors="replace"))
        except httpx.HTTPError as err:
            return outcome(None, f"{type(err).__name__}: {err}"[:500])
        except Exception as err:  # a URL httpx cannot even send to, and the like: the attempt failed
            return outcome(None, f"{type(err).__name__}: {err}"[:500])

    async def deliver(self, job: Job) -> None:
        try:
            result = await self.attempt(job)
            state = await self.store.finish(job, result, self.replica_id, self.settings.callback_retry_seconds)
            ATTEMPTS.labels("delivered" if result.delivered else "failed").inc()
            if state == "gave_up":
                GAVE_UP.inc()
            log.info("callback attempt", order_id=job.order_id, callback_id=str(job.callback_id),
                     attempt=job.attempts + 1, http_status=result.http_status, error=result.error, state=state)
        except Exception:
            log.exception("callback delivery failed; the lease will lapse and the job be retried",
                          callback_id=str(job.callback_id))
        finally:
            self._wake.set()

    async def deliver_due(self) -> int:
        """Take what is due (as many as there are free slots) and start sending it."""
        free = self.settings.callback_concurrency - len(self._tasks)
        if free <= 0:
            return 0
        jobs = await self.store.claim(free, self.settings.callback_lease_seconds)
        for job in jobs:
            task = asyncio.create_task(self.deliver(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(jobs)

    async def _deliver_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                taken = await self.deliver_due()
            except Exception:
                log.exception("taking due callbacks failed")
                taken = 0
            if not taken:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.callback_poll_seconds)

    async def _consume(self) -> None:
        while not self._stopping.is_set():
            try:
                await ensure_topics(self.settings, [ORDERS_TOPIC])
                self._producer = make_producer(self.settings)  # for the dead-letter topic
                await self._producer.start()
                break
            except Exception:
                log.exception("Kafka not reachable for callbacks yet; retrying")
                if self._producer is not None:
                    with contextlib.suppress(Exception):
                        await self._producer.stop()
                    self._producer = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 2.0)
        if self._stopping.is_set() or self._producer is None:
            return
        self._consumer = EventConsumer(
            name=CONSUMER, settings=self.settings, pool=self.pool, producer=self._producer, topics=[ORDERS_TOPIC],
            handlers={order_events.OrderStatusChanged: self.on_status_changed},
            relevant={order_events.OrderStatusChanged: wants_callback},
        )
        await self._consumer.run()

    async def run(self) -> None:
        await asyncio.gather(self._consume(), self._deliver_loop())

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._consumer is not None:
            await self._consumer.stop()
        if self._tasks:  # attempts under way finish (bounded by the callback timeout)
            await asyncio.wait(list(self._tasks), timeout=self.settings.callback_timeout_seconds)

    async def close(self) -> None:
        await self.http.aclose()
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
