"""The billing adapter consumes FulfilmentRequested: the job (held by this worker) and its
FulfilmentStarted event are stored exactly once, with the inbox, and the job is worked on right after the
commit. A whole poll is stored in one statement.

A request for an order that has a job already (the order core asked again: its watchdog) starts nothing: the
adapter announces again where the job is (`announce.outcome_again`), so a lost outcome is heard after all."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prometheus_client import Counter

from billing_adapter import repository
from billing_adapter.announce import outcome_again
from billing_adapter.repository import Job, OperationRow
from billing_adapter.worker import FulfilmentWorker
from topup.events.v1 import billing_pb2
from topup.events.v1 import orders_pb2 as order_events
from topup.events.v1.envelope_pb2 import EventEnvelope
from topup_platform import vocab
from topup_platform.consumer import BatchHandler, EventContext, Handler
from topup_platform.events import BILLING_TOPIC
from topup_platform.outbox import INSERT_ROWS, row_arrays
from topup_platform.timeutil import from_timestamp, to_timestamp, utcnow

REANNOUNCED = Counter("topup_billing_outcomes_reannounced",
                      "Jobs whose state was announced again because their order's fulfilment was asked for again")

_KIND = {order_events.FulfilmentOperation.KIND_CREDIT: "credit",
         order_events.FulfilmentOperation.KIND_DATA_PACK: "data_pack"}


def _job(envelope: EventEnvelope, event: order_events.FulfilmentRequested) -> Job:
    return Job(
        order_id=UUID(event.order_id), channel_id=event.channel_id,
        account_type=vocab.ACCOUNT_TYPE_NAMES[event.account.type], account_id=event.account.id, sku=event.sku,
        state="in_progress", attempts=0, requested_at=from_timestamp(event.accepted_at) or utcnow(),
        trace_context=dict(envelope.trace_context),
        operations=[OperationRow(op.transaction_id, seq, _KIND[op.kind], op.amount_fen, op.pack_code, "pending", "")
                    for seq, op in enumerate(event.operations)],
    )


def fulfilment_requests(worker: FulfilmentWorker) -> BatchHandler:
    async def store(ctx: EventContext, events: list[tuple[EventEnvelope, Any]]) -> None:
        jobs = []
        seen: set[str] = set()
        for envelope, event in events:
            if event.order_id in seen:  # asked twice in one poll (the order core asked again): stored once
                continue
            seen.add(event.order_id)
            started = billing_pb2.FulfilmentStarted(order_id=event.order_id, started_at=to_timestamp(utcnow()))
            row = worker.outbox.row(BILLING_TOPIC, started, aggregate_type="order", aggregate_id=event.order_id,
                                    trace_context=dict(envelope.trace_context))
            jobs.append((_job(envelope, event), row))
        created = await repository.insert_jobs(ctx.conn, jobs, owner=worker.owner,
                                               lease_seconds=worker.settings.lease_seconds)
        if created:  # the jobs, held by this worker, and their FulfilmentStarted are committed: go
            ctx.after_commit(worker.outbox.wake)
            for job, _ in jobs:
                if job.order_id in created:
                    ctx.after_commit(lambda job=job: worker.dispatch(job.order_id, job))  # type: ignore[misc]
        asked_again = [job.order_id for job, _ in jobs if job.order_id not in created]
        if asked_again:
            again = [worker.outbox.row(BILLING_TOPIC, event, aggregate_type="order", aggregate_id=str(j["order_id"]))
                     for j, ops in await repository.jobs_with_operations(ctx.conn, asked_again)
                     if (event := outcome_again(j, ops)) is not None]
            if again:
                await ctx.conn.execute(INSERT_ROWS, *row_arrays(again))
                ctx.after_commit(worker.outbox.wake)
                REANNOUNCED.inc(len(again))

    return store


def order_handlers(worker: FulfilmentWorker) -> dict[type, Handler]:
    store = fulfilment_requests(worker)

    async def requested(ctx: EventContext, event: order_events.FulfilmentRequested) -> None:
        await store(ctx, [(ctx.envelope, event)])

    return {order_events.FulfilmentRequested: requested}
