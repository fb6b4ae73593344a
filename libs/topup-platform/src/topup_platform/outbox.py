"""The transactional outbox and its relay.

`Outbox.add` writes an event in the caller's transaction, next to the state change it announces. The
relay publishes rows to Kafka in id order, waits for the broker's acknowledgement and only then deletes
them, so a crash at any point republishes (at-least-once) and never loses an event. (eShop publishes right
after commit instead, and loses the event when it crashes in between.)

One relay per schema publishes at a time: replicas compete for a session advisory lock and the loser
stands by, so one aggregate's events keep their order. The process that wrote an event wakes its own relay
at once (`wake()`); other replicas' events are picked up by a short poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer
from google.protobuf.message import Message

from topup.events.v1 import envelope_pb2
from topup_platform import metrics
from topup_platform.events import kafka_headers, make_envelope
from topup_platform.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    event_id: str
    topic: str
    key: str
    event_type: str
    envelope: bytes


INSERT_ROWS = """INSERT INTO outbox (event_id, topic, key, event_type, envelope)
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[])"""


def row_arrays(rows: list[OutboxRow]) -> tuple[list[str], list[str], list[str], list[str], list[bytes]]:
    """Column arrays for `unnest`, to write many events in the statement that writes the state change."""
    return ([r.event_id for r in rows], [r.topic for r in rows], [r.key for r in rows],
            [r.event_type for r in rows], [r.envelope for r in rows])


class Outbox:
    def __init__(self, producer_name: str) -> None:
        self.producer_name = producer_name
        self._wakeup = asyncio.Event()

    def row(self, topic: str, payload: Message, *, aggregate_type: str, aggregate_id: str,
            trace_context: Mapping[str, str] | None = None) -> OutboxRow:
        """An event ready to be written by the caller's own statement (see `row_arrays`); `trace_context`
        when it belongs to another request than the current one (an item of a batch)."""
        envelope = make_envelope(
            payload, aggregate_type=aggregate_type, aggregate_id=aggregate_id, producer=self.producer_name,
            trace_context=trace_context,
        )
        return OutboxRow(envelope.event_id, topic, aggregate_id, envelope.event_type, envelope.SerializeToString())

    async def add(
        self,
        conn: asyncpg.Connection,
        topic: str,
        payload: Message,
        *,
        aggregate_type: str,
        aggregate_id: str,
    ) -> envelope_pb2.EventEnvelope:
        envelope = make_envelope(
            payload, aggregate_type=aggregate_type, aggregate_id=aggregate_id, producer=self.producer_name
        )
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, event_type, envelope) VALUES ($1, $2, $3, $4, $5)",
            envelope.event_id, topic, aggregate_id, envelope.event_type, envelope.SerializeToString(),
        )
        return envelope

    def wake(self) -> None:
        """Call after the transaction that added events has committed."""
        self._wakeup.set()

    async def wait(self, seconds: float) -> None:
        """Until woken, or `seconds` at most (the poll for other replicas' events)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        self._wakeup.clear()


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        outbox: Outbox,
        *,
        schema: str,
        batch_size: int = 500,
        poll_interval: float = 0.05,
        standby_interval: float = 1.0,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.outbox = outbox
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.standby_interval = standby_interval
        self.lock_key = int.from_bytes(hashlib.sha256(f"outbox:{schema}".encode()).digest()[:8], "big", signed=True)
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                async with self.pool.acquire() as conn:
                    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):
                        await self._sleep(self.standby_interval)
                        continue
                    metrics.OUTBOX_RELAY_LEADER.set(1)
                    try:
                        await self._lead(conn)
                    finally:
                        metrics.OUTBOX_RELAY_LEADER.set(0)
                        if not conn.is_closed():
                            await conn.execute("SELECT pg_advisory_unlock($1)", self.lock_key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay error; retrying")
                await self._sleep(1.0)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        loop = asyncio.get_running_loop()
        next_gauge = 0.0
        while not self._stopping.is_set():
            published = await self.publish_batch(conn)
            if loop.time() >= next_gauge:
                await self._update_gauges(conn)
                next_gauge = loop.time() + 5.0
            if published < self.batch_size:
                await self.outbox.wait(self.poll_interval)
        # Stopping: publish what the other workers wrote while they finished (what is left waits for a restart).
        while await self.publish_batch(conn) == self.batch_size:
            pass

    async def publish_batch(self, conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(
            "SELECT id, topic, key, envelope FROM outbox ORDER BY id LIMIT $1", self.batch_size
        )
        if not rows:
            return 0
        sends = []
        for row in rows:
            envelope = envelope_pb2.EventEnvelope.FromString(row["envelope"])
            sends.append(
                await self.producer.send(
                    row["topic"], value=row["envelope"], key=row["key"].encode(), headers=kafka_headers(envelope)
                )
            )
        await asyncio.gather(*sends)
        await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        for row in rows:
            metrics.OUTBOX_PUBLISHED.labels(row["topic"]).inc()
        return len(rows)

    async def _update_gauges(self, conn: asyncpg.Connection) -> None:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age FROM outbox"
        )
        metrics.OUTBOX_BACKLOG.set(row["n"])
        metrics.OUTBOX_OLDEST_AGE.set(float(row["age"]))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def stop(self) -> None:
        self._stopping.set()
        self.outbox.wake()
