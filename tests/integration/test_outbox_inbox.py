"""The transactional outbox and the idempotent consumer, on real PostgreSQL and the real broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.integration.conftest import settings_for, unique
from topup.events.v1 import billing_pb2, envelope_pb2
from topup_platform.consumer import EventConsumer, EventContext
from topup_platform.events import dead_letter_topic
from topup_platform.kafka import ensure_topics, make_producer
from topup_platform.outbox import Outbox, OutboxRelay


@pytest.fixture
async def producer(infra) -> AsyncIterator[AIOKafkaProducer]:  # type: ignore[no-untyped-def]
    p = make_producer(settings_for(infra, "x"))
    await p.start()
    yield p
    await p.stop()


async def _drain(infra, topic: str, expected: int, timeout: float = 15.0) -> list:  # type: ignore[no-untyped-def]
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    partitions = consumer.partitions_for_topic(topic) or set()
    consumer.assign([TopicPartition(topic, p) for p in partitions])  # no group: read everything at once
    records = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < expected:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
        await asyncio.sleep(0.3)  # and nothing more arrives
        for batch in (await consumer.getmany(timeout_ms=300)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


@contextlib.asynccontextmanager
async def running(*workers):  # type: ignore[no-untyped-def]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield
    finally:
        for w in workers:
            await w.stop()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)


async def _add(pool: asyncpg.Pool, outbox: Outbox, topic: str, order_id: str, attempts: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, topic, billing_pb2.FulfilmentStarted(order_id=order_id),
                         aggregate_type="order", aggregate_id=order_id)
        await conn.execute("SELECT $1::int", attempts)


async def test_relay_publishes_in_order_and_then_deletes(infra, schema, pool, producer) -> None:  # type: ignore[no-untyped-def]
    topic = unique("topup.test")
    await ensure_topics(settings_for(infra, schema), [topic])
    outbox = Outbox("tests")
    for i in range(30):
        await _add(pool, outbox, topic, f"order-{i % 3}", i)
    relay = OutboxRelay(pool, producer, outbox, schema=schema, poll_interval=0.02)
    async with running(relay):
        records = await _drain(infra, topic, 30)
    assert len(records) == 30
    for key in ("order-0", "order-1", "order-2"):
        offsets = [(r.partition, r.offset) for r in records if r.key == key.encode()]
        assert len({p for p, _ in offsets}) == 1  # one aggregate, one partition: its order is kept
    envelope = envelope_pb2.EventEnvelope.FromString(records[0].value)
    assert envelope.event_type == "topup.events.v1.FulfilmentStarted"
    assert dict(records[0].headers)["event_id"].decode() == envelope.event_id
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_rolled_back_transaction_publishes_nothing(infra, schema, pool, producer) -> None:  # type: ignore[no-untyped-def]
    topic = unique("topup.test")
    await ensure_topics(settings_for(infra, schema), [topic])
    outbox = Outbox("tests")
    with contextlib.suppress(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, topic, billing_pb2.FulfilmentStarted(order_id="rolled-back"),
                             aggregate_type="order", aggregate_id="rolled-back")
            raise RuntimeError("the state change failed")
    await _add(pool, outbox, topic, "kept", 0)
    async with running(OutboxRelay(pool, producer, outbox, schema=schema, poll_interval=0.02)):
        records = await _drain(infra, topic, 1)
    assert [r.key for r in records] == [b"kept"]


async def test_only_one_relay_leads(infra, schema, pool, producer) -> None:  # type: ignore[no-untyped-def]
    topic = unique("topup.test")
    await ensure_topics(settings_for(infra, schema), [topic])
    outbox = Outbox("tests")
    relays = [OutboxRelay(pool, producer, outbox, schema=schema, poll_interval=0.02, standby_interval=0.1)
              for _ in range(3)]
    async with running(*relays):
        for i in range(20):
            await _add(pool, outbox, topic, f"o{i}", i)
        records = await _drain(infra, topic, 20)
        async with pool.acquire() as conn:
            holders = await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND objid = ($1::bigint & x'ffffffff'::bigint)", relays[0].lock_key)
    assert len(records) == 20  # three relays, yet every event exactly once
    assert holders == 1


async def test_consumer_applies_each_event_once_even_when_redelivered(  # type: ignore[no-untyped-def]
    infra, schema, pool, producer
) -> None:
    topic = unique("topup.test")
    settings = settings_for(infra, schema)
    await ensure_topics(settings, [topic])
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE applied (order_id text, n int)")

    async def handle(ctx: EventContext, event: billing_pb2.FulfilmentSucceeded) -> None:
        await ctx.conn.execute("INSERT INTO applied VALUES ($1, $2)", event.order_id, event.attempts)

    outbox = Outbox("tests")
    async with pool.acquire() as conn, conn.transaction():
        envelope = await outbox.add(conn, topic, billing_pb2.FulfilmentSucceeded(order_id="o-1", attempts=1),
                                    aggregate_type="order", aggregate_id="o-1")
    consumer = EventConsumer(name=unique("c"), settings=settings, pool=pool, producer=producer, topics=[topic],
                             handlers={billing_pb2.FulfilmentSucceeded: handle})
    async with running(OutboxRelay(pool, producer, outbox, schema=schema, poll_interval=0.02), consumer):
        # The broker redelivers the very same message (same event id) twice more.
        for _ in range(2):
            await producer.send_and_wait(topic, envelope.SerializeToString(), key=b"o-1")
        await _wait_for(pool, "SELECT count(*) FROM inbox", 1)
        await asyncio.sleep(1.0)
    async with pool.acquire() as conn:
        assert await conn.fetch("SELECT order_id, n FROM applied") == [("o-1", 1)]
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 1


async def test_a_failed_handler_rolls_back_and_poison_goes_to_the_dead_letter_topic(  # type: ignore[no-untyped-def]
    infra, schema, pool, producer
) -> None:
    topic = unique("topup.test")
    settings = settings_for(infra, schema)
    name = unique("c")
    await ensure_topics(settings, [topic, dead_letter_topic(topic, name)])
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE applied (order_id text)")

    async def handle(ctx: EventContext, event: billing_pb2.FulfilmentSucceeded) -> None:
        await ctx.conn.execute("INSERT INTO applied VALUES ($1)", event.order_id)
        if event.order_id == "poison":
            raise ValueError("cannot apply this one")

    outbox = Outbox("tests")
    for order_id in ("poison", "fine"):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, topic, billing_pb2.FulfilmentSucceeded(order_id=order_id),
                             aggregate_type="order", aggregate_id=order_id)
    consumer = EventConsumer(name=name, settings=settings, pool=pool, producer=producer, topics=[topic],
                             handlers={billing_pb2.FulfilmentSucceeded: handle}, max_attempts=3)
    async with running(OutboxRelay(pool, producer, outbox, schema=schema, poll_interval=0.02), consumer):
        dead = await _drain(infra, dead_letter_topic(topic, name), 1)
    assert len(dead) == 1 and dict(dead[0].headers)["dlq_reason"].startswith(b"ValueError")
    async with pool.acquire() as conn:
        assert [r["order_id"] for r in await conn.fetch("SELECT order_id FROM applied")] == ["fine"]


async def _wait_for(pool: asyncpg.Pool, sql: str, expected: int, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            async with pool.acquire() as conn:
                if await conn.fetchval(sql) == expected:
                    return
            await asyncio.sleep(0.05)
