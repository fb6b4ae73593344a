"""Idempotent event consumers on aiokafka, with an inbox.

Each event is applied in one PostgreSQL transaction that also records its event id in the inbox; a
redelivered event finds its id there and changes nothing. Offsets are committed only after every event of
a poll has been applied (at-least-once delivery, exactly-once effects).

Within one poll, events with the same key (one aggregate) are applied in order, one after another;
different keys are applied concurrently, up to `concurrency`. An event whose handler keeps failing is
retried `max_attempts` times, then sent to the dead-letter topic `<topic>.dlq.<consumer>` with a metric,
and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from google.protobuf.message import DecodeError, Message
from opentelemetry import context as otel_context
from opentelemetry import trace

from topup.events.v1 import envelope_pb2
from topup_platform import metrics, telemetry
from topup_platform.events import dead_letter_topic
from topup_platform.logging import get_logger
from topup_platform.settings import PlatformSettings

log = get_logger(__name__)
tracer = trace.get_tracer(__name__)


@dataclass
class EventContext:
    """What a handler gets besides the payload: the open transaction and the envelope."""

    conn: asyncpg.Connection
    envelope: envelope_pb2.EventEnvelope
    topic: str
    _after_commit: list[Callable[[], Any]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], Any]) -> None:
        """Run `callback` (sync or async) once the transaction has committed."""
        self._after_commit.append(callback)


Handler = Callable[[EventContext, Any], Awaitable[None]]


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        settings: PlatformSettings,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        topics: list[str],
        handlers: Mapping[type[Message], Handler],
        concurrency: int = 32,
        max_attempts: int = 5,
    ) -> None:
        self.name = name
        self.settings = settings
        self.pool = pool
        self.producer = producer
        self.topics = topics
        self.handlers = {cls.DESCRIPTOR.full_name: (cls, handler) for cls, handler in handlers.items()}
        self.semaphore = asyncio.Semaphore(concurrency)
        self.max_attempts = max_attempts
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None

    def _make_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.name,
            client_id=f"{self.settings.service_name}-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=500,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_heartbeat_interval_ms,
        )

    async def run(self) -> None:
        while not self._stopping.is_set():
            consumer = self._make_consumer()
            self._consumer = consumer
            try:
                await consumer.start()
                while not self._stopping.is_set():
                    batch = await consumer.getmany(timeout_ms=100, max_records=500)
                    if not batch:
                        continue
                    await self.apply_batch(batch)
                    await consumer.commit({tp: msgs[-1].offset + 1 for tp, msgs in batch.items()})
                    self._record_lag(consumer, batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Nothing of the failed poll was committed: a fresh consumer resumes from the committed offsets.
                log.exception("consumer loop failed; restarting", consumer=self.name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1.0)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                self._consumer = None

    async def stop(self) -> None:
        self._stopping.set()

    def _record_lag(self, consumer: AIOKafkaConsumer, batch: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        for tp, msgs in batch.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(self.name, tp.topic, str(tp.partition)).set(
                    max(0, highwater - msgs[-1].offset - 1)
                )

    async def apply_batch(self, batch: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        by_key: dict[tuple[str, bytes | None], list[ConsumerRecord]] = defaultdict(list)
        for tp, records in batch.items():
            for record in records:
                by_key[(tp.topic, record.key)].append(record)
        await asyncio.gather(*(self._apply_in_order(records) for records in by_key.values()))

    async def _apply_in_order(self, records: list[ConsumerRecord]) -> None:
        async with self.semaphore:
            for record in records:
                await self._apply_with_retries(record)

    async def _apply_with_retries(self, record: ConsumerRecord) -> None:
        try:
            envelope = envelope_pb2.EventEnvelope.FromString(record.value)
        except DecodeError:
            await self._dead_letter(record, "undecodable envelope")
            return
        entry = self.handlers.get(envelope.event_type)
        if entry is None:
            metrics.EVENTS_CONSUMED.labels(self.name, envelope.event_type, "ignored").inc()
            return
        cls, handler = entry
        payload = cls()
        if not envelope.payload.Unpack(payload):
            await self._dead_letter(record, "payload does not match event_type")
            return
        parent = telemetry.extract_context(dict(envelope.trace_context))
        for attempt in range(1, self.max_attempts + 1):
            token = otel_context.attach(parent)
            try:
                with tracer.start_as_current_span(
                    f"{record.topic} process", kind=trace.SpanKind.CONSUMER,
                    attributes={"messaging.system": "kafka", "messaging.destination.name": record.topic,
                                "messaging.consumer.group.name": self.name, "topup.event_type": envelope.event_type,
                                "topup.aggregate_id": envelope.aggregate_id},
                ):
                    await self.apply(record.topic, envelope, handler, payload)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event handler failed", consumer=self.name, event_type=envelope.event_type,
                            event_id=envelope.event_id, aggregate_id=envelope.aggregate_id, attempt=attempt,
                            error=repr(exc))
                if attempt == self.max_attempts:
                    await self._dead_letter(record, repr(exc))
                    return
                await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
            finally:
                otel_context.detach(token)

    async def apply(self, topic: str, envelope: envelope_pb2.EventEnvelope, handler: Handler, payload: Any) -> bool:
        """Apply one event exactly once. Returns False when it had been applied before."""
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            ctx = EventContext(conn=conn, envelope=envelope, topic=topic)
            async with conn.transaction():
                first = await conn.fetchval(
                    "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
                    self.name, envelope.event_id,
                )
                if not first:
                    metrics.EVENTS_CONSUMED.labels(self.name, envelope.event_type, "duplicate").inc()
                    return False
                await handler(ctx, payload)
        for callback in ctx._after_commit:
            result = callback()
            if asyncio.iscoroutine(result):
                await result
        metrics.EVENTS_CONSUMED.labels(self.name, envelope.event_type, "applied").inc()
        metrics.EVENT_HANDLING.labels(self.name, envelope.event_type).observe(time.perf_counter() - started)
        return True

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        topic = dead_letter_topic(record.topic, self.name)
        headers = [*(record.headers or ()), ("dlq_reason", reason.encode()[:1000]),
                   ("dlq_source", f"{record.topic}/{record.partition}/{record.offset}".encode())]
        await self.producer.send_and_wait(topic, value=record.value, key=record.key, headers=headers)
        metrics.DEAD_LETTERED.labels(self.name, record.topic).inc()
        log.error("event dead-lettered", consumer=self.name, topic=record.topic, partition=record.partition,
                  offset=record.offset, reason=reason)
