"""Idempotent event consumers on aiokafka, with an inbox.

Events are applied in a PostgreSQL transaction that also records their event ids in the inbox; a
redelivered event finds its id there and changes nothing. Offsets are committed only after every event of
a poll has been applied (at-least-once delivery, exactly-once effects).

A poll is applied in one transaction (one inbox statement, one commit, events in partition order; with a
`batch_handler`, all of them in one call, so it can write them in a few statements). If any of its events
fails, that transaction rolls back and the events are applied one by one, each in its own transaction:
same-key events (one aggregate) in order, different keys concurrently up to `concurrency`. An event whose
handler keeps failing is retried `max_attempts` times, then sent to the dead-letter topic
`<topic>.dlq.<consumer>` with a metric, and the consumer moves on. Events a consumer does not care about
(`relevant`) are skipped without touching the database.

A broker that lost its log (the embedded broker is memory-only: restarted, it is empty) knows neither this
consumer's group nor its offsets: the consumer joins again and, finding no committed offsets, reads from the
start (the inbox drops whatever was applied before). What such a broker may refuse for a while (a commit to a
topic it made again by itself) is bounded: a commit that does not complete in `commit_timeout_seconds` starts
the consumer again, after making its topics as they should be. Events the broker lost are not read again by
anybody: the services notice what they wait for and ask again (see orders' watchdog).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from google.protobuf.message import DecodeError, Message
from opentelemetry import trace

from topup.events.v1 import envelope_pb2
from topup_platform import metrics, telemetry
from topup_platform.events import dead_letter_topic
from topup_platform.kafka import ensure_topics, security_options
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
#: whether a consumer cares about an event at all (those it does not are skipped without a transaction)
Relevant = Callable[[Any], bool]
#: applies many events (in partition order, each with its envelope) in the caller's transaction
BatchHandler = Callable[["EventContext", list[tuple[envelope_pb2.EventEnvelope, Any]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Event:
    record: ConsumerRecord
    envelope: envelope_pb2.EventEnvelope
    handler: Handler
    payload: Any


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
        relevant: Mapping[type[Message], Relevant] | None = None,
        batch_handler: BatchHandler | None = None,
        concurrency: int = 32,
        max_attempts: int = 5,
        max_per_transaction: int = 200,
        commit_timeout_seconds: float = 5.0,
    ) -> None:
        self.name = name
        self.settings = settings
        self.pool = pool
        self.producer = producer
        self.topics = topics
        self.handlers = {cls.DESCRIPTOR.full_name: (cls, handler, (relevant or {}).get(cls))
                         for cls, handler in handlers.items()}
        self.max_per_transaction = max_per_transaction
        self.batch_handler = batch_handler
        self.semaphore = asyncio.Semaphore(concurrency)
        self.max_attempts = max_attempts
        self.commit_timeout_seconds = commit_timeout_seconds
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None

    def _make_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            **security_options(self.settings),
            group_id=self.name,
            client_id=f"{self.settings.service_name}-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=500,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_heartbeat_interval_ms,
            metadata_max_age_ms=self.settings.kafka_metadata_max_age_ms,
        )

    async def run(self) -> None:
        fresh_start = True
        while not self._stopping.is_set():
            consumer = self._make_consumer()
            self._consumer = consumer
            try:
                if not fresh_start:  # the broker may have come back empty: our topics as they should be first
                    await self._ensure_topics()
                fresh_start = False
                await consumer.start()
                while not self._stopping.is_set():
                    batch = await consumer.getmany(timeout_ms=100, max_records=500)
                    if not batch:
                        continue
                    await self.apply_batch(batch)
                    # bounded: a broker that lost the topic answers a commit with a retriable error, forever
                    await asyncio.wait_for(consumer.commit({tp: msgs[-1].offset + 1 for tp, msgs in batch.items()}),
                                           self.commit_timeout_seconds)
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

    async def _ensure_topics(self) -> None:
        """Make this consumer's topics if the broker lost them; a broker that refuses (no right to create topics:
        production declares them) or cannot be reached now is not a reason to stop consuming."""
        try:
            await ensure_topics(self.settings, self.topics, attempts=1)
        except Exception as exc:
            log.warning("could not check this consumer's topics", consumer=self.name, error=repr(exc))

    def _record_lag(self, consumer: AIOKafkaConsumer, batch: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        for tp, msgs in batch.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                metrics.CONSUMER_LAG.labels(self.name, tp.topic, str(tp.partition)).set(
                    max(0, highwater - msgs[-1].offset - 1)
                )

    async def apply_batch(self, batch: Mapping[TopicPartition, list[ConsumerRecord]]) -> None:
        """Apply a poll. Fast path: the whole poll in one transaction (one inbox statement, one commit);
        if any event fails there, the transaction rolls back and the events are applied one by one, with
        retries and the dead-letter topic for the one that keeps failing."""
        events: list[_Event] = []
        for records in batch.values():
            for record in records:
                event = await self._decode(record)
                if event is not None:
                    events.append(event)
        for start in range(0, len(events), self.max_per_transaction):
            chunk = events[start : start + self.max_per_transaction]
            try:
                await self._apply_together(chunk)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("applying a poll together failed; applying its events one by one", consumer=self.name,
                            events=len(chunk), error=repr(exc))
                metrics.BATCH_FALLBACKS.labels(self.name).inc()
                await self._apply_one_by_one(chunk)

    async def _decode(self, record: ConsumerRecord) -> _Event | None:
        try:
            envelope = envelope_pb2.EventEnvelope.FromString(record.value)
        except DecodeError:
            await self._dead_letter(record, "undecodable envelope")
            return None
        entry = self.handlers.get(envelope.event_type)
        if entry is None:
            metrics.EVENTS_CONSUMED.labels(self.name, envelope.event_type, "ignored").inc()
            return None
        cls, handler, relevant = entry
        payload = cls()
        if not envelope.payload.Unpack(payload):
            await self._dead_letter(record, "payload does not match event_type")
            return None
        if relevant is not None and not relevant(payload):
            metrics.EVENTS_CONSUMED.labels(self.name, envelope.event_type, "ignored").inc()
            return None
        return _Event(record, envelope, handler, payload)

    async def _apply_together(self, events: list[_Event]) -> None:
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            contexts: list[EventContext] = []
            async with conn.transaction():
                fresh = {str(r["event_id"]) for r in await conn.fetch(
                    """INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])
                       ON CONFLICT DO NOTHING RETURNING event_id""",
                    self.name, [e.envelope.event_id for e in events],
                )}
                todo: list[_Event] = []
                for event in events:
                    if event.envelope.event_id not in fresh:
                        metrics.EVENTS_CONSUMED.labels(self.name, event.envelope.event_type, "duplicate").inc()
                        continue
                    fresh.discard(event.envelope.event_id)  # the same event twice in one poll: once
                    todo.append(event)
                if self.batch_handler is not None and todo:
                    ctx = EventContext(conn=conn, envelope=todo[0].envelope, topic=todo[0].record.topic)
                    with self._batch_spans(todo):
                        await self.batch_handler(ctx, [(e.envelope, e.payload) for e in todo])
                    contexts.append(ctx)
                else:
                    for event in todo:
                        ctx = EventContext(conn=conn, envelope=event.envelope, topic=event.record.topic)
                        with self._span(event):
                            await event.handler(ctx, event.payload)
                        contexts.append(ctx)
                applied = [e.envelope.event_type for e in todo]
        await self._after_commit(contexts)
        elapsed = (time.perf_counter() - started) / max(len(applied), 1)
        for event_type in applied:
            metrics.EVENTS_CONSUMED.labels(self.name, event_type, "applied").inc()
            metrics.EVENT_HANDLING.labels(self.name, event_type).observe(elapsed)

    async def _apply_one_by_one(self, events: list[_Event]) -> None:
        by_key: dict[tuple[str, bytes | None], list[_Event]] = defaultdict(list)
        for event in events:
            by_key[(event.record.topic, event.record.key)].append(event)

        async def in_order(group: list[_Event]) -> None:
            async with self.semaphore:
                for event in group:
                    await self._apply_with_retries(event)

        await asyncio.gather(*(in_order(group) for group in by_key.values()))

    async def _apply_with_retries(self, event: _Event) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self._span(event):
                    await self.apply(event)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("event handler failed", consumer=self.name, event_type=event.envelope.event_type,
                            event_id=event.envelope.event_id, aggregate_id=event.envelope.aggregate_id,
                            attempt=attempt, error=repr(exc))
                if attempt == self.max_attempts:
                    await self._dead_letter(event.record, repr(exc))
                    return
                await asyncio.sleep(min(0.05 * 2**attempt, 2.0))

    def _span_attributes(self, event: _Event) -> dict[str, str | int]:
        return {"messaging.system": "kafka", "messaging.destination.name": event.record.topic,
                "messaging.consumer.group.name": self.name, "topup.event_type": event.envelope.event_type,
                "topup.aggregate_id": event.envelope.aggregate_id}

    @contextlib.contextmanager
    def _span(self, event: _Event) -> Iterator[None]:
        """The event's own trace continues here (its producer's context travels in the envelope)."""
        with telemetry.continue_trace(event.envelope.trace_context, f"{event.record.topic} process",
                                      kind=trace.SpanKind.CONSUMER, attributes=self._span_attributes(event)):
            yield

    def _batch_spans(self, events: list[_Event]) -> contextlib.AbstractContextManager[None]:
        """Events applied together: each one's trace gets a consumer span covering the batch."""
        size = {"messaging.batch.message_count": len(events)}
        return telemetry.item_spans(f"{events[0].record.topic} process", (
            (e.envelope.trace_context, {**self._span_attributes(e), **size}) for e in events),
            kind=trace.SpanKind.CONSUMER)

    async def apply(self, event: _Event) -> bool:
        """Apply one event exactly once, in its own transaction. Returns False if it was applied before."""
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            ctx = EventContext(conn=conn, envelope=event.envelope, topic=event.record.topic)
            async with conn.transaction():
                first = await conn.fetchval(
                    "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
                    self.name, event.envelope.event_id,
                )
                if not first:
                    metrics.EVENTS_CONSUMED.labels(self.name, event.envelope.event_type, "duplicate").inc()
                    return False
                await event.handler(ctx, event.payload)
        await self._after_commit([ctx])
        metrics.EVENTS_CONSUMED.labels(self.name, event.envelope.event_type, "applied").inc()
        metrics.EVENT_HANDLING.labels(self.name, event.envelope.event_type).observe(time.perf_counter() - started)
        return True

    @staticmethod
    async def _after_commit(contexts: list[EventContext]) -> None:
        for ctx in contexts:
            for callback in ctx._after_commit:
                result = callback()
                if asyncio.iscoroutine(result):
                    await result

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        topic = dead_letter_topic(record.topic, self.name)
        headers = [*(record.headers or ()), ("dlq_reason", reason.encode()[:1000]),
                   ("dlq_source", f"{record.topic}/{record.partition}/{record.offset}".encode())]
        await self.producer.send_and_wait(topic, value=record.value, key=record.key, headers=headers)
        metrics.DEAD_LETTERED.labels(self.name, record.topic).inc()
        log.error("event dead-lettered", consumer=self.name, topic=record.topic, partition=record.partition,
                  offset=record.offset, reason=reason)
