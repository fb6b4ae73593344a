"""The billing adapter consumes FulfilmentRequested: the job and its FulfilmentStarted event are stored
(exactly once, with the inbox) and the job is worked on right after the commit."""

from __future__ import annotations

from uuid import UUID

from billing_adapter import repository
from billing_adapter.repository import Job, OperationRow
from billing_adapter.worker import FulfilmentWorker
from topup.events.v1 import billing_pb2
from topup.events.v1 import orders_pb2 as order_events
from topup_platform import vocab
from topup_platform.consumer import EventContext, Handler
from topup_platform.events import BILLING_TOPIC
from topup_platform.timeutil import from_timestamp, to_timestamp, utcnow

_KIND = {order_events.FulfilmentOperation.KIND_CREDIT: "credit",
         order_events.FulfilmentOperation.KIND_DATA_PACK: "data_pack"}


def order_handlers(worker: FulfilmentWorker) -> dict[type, Handler]:
    async def requested(ctx: EventContext, event: order_events.FulfilmentRequested) -> None:
        job = Job(
            order_id=UUID(event.order_id), channel_id=event.channel_id,
            account_type=vocab.ACCOUNT_TYPE_NAMES[event.account.type], account_id=event.account.id, sku=event.sku,
            state="in_progress", attempts=0, requested_at=from_timestamp(event.accepted_at) or utcnow(),
            operations=[OperationRow(op.transaction_id, seq, _KIND[op.kind], op.amount_fen, op.pack_code, "pending", "")
                        for seq, op in enumerate(event.operations)],
        )
        started = worker.outbox.row(BILLING_TOPIC, billing_pb2.FulfilmentStarted(
            order_id=event.order_id, started_at=to_timestamp(utcnow())), aggregate_type="order",
            aggregate_id=event.order_id)
        created = await repository.insert_job(ctx.conn, job, started=started, owner=worker.owner,
                                              lease_seconds=worker.settings.lease_seconds)
        if created:  # the job, held by this worker, and its FulfilmentStarted are committed: go
            ctx.after_commit(worker.outbox.wake)
            ctx.after_commit(lambda: worker.dispatch(job.order_id, job))

    return {order_events.FulfilmentRequested: requested}
