"""The billing adapter consumes FulfilmentRequested: the job is stored (exactly once, with the inbox) and
worked on right after the commit."""

from __future__ import annotations

from uuid import UUID

from billing_adapter import repository
from billing_adapter.worker import FulfilmentWorker
from topup.events.v1 import orders_pb2 as order_events
from topup_platform import vocab
from topup_platform.consumer import EventContext, Handler
from topup_platform.timeutil import from_timestamp, utcnow

_KIND = {order_events.FulfilmentOperation.KIND_CREDIT: "credit",
         order_events.FulfilmentOperation.KIND_DATA_PACK: "data_pack"}


def order_handlers(worker: FulfilmentWorker) -> dict[type, Handler]:
    async def requested(ctx: EventContext, event: order_events.FulfilmentRequested) -> None:
        order_id = UUID(event.order_id)
        created = await repository.insert_job(
            ctx.conn, order_id=order_id, channel_id=event.channel_id,
            account_type=vocab.ACCOUNT_TYPE_NAMES[event.account.type], account_id=event.account.id, sku=event.sku,
            requested_at=from_timestamp(event.accepted_at) or utcnow(),
            operations=[(op.transaction_id, seq, _KIND[op.kind], op.amount_fen, op.pack_code)
                        for seq, op in enumerate(event.operations)],
        )
        if created:
            ctx.after_commit(lambda: worker.dispatch(order_id))

    return {order_events.FulfilmentRequested: requested}
