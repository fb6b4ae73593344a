"""Events the refund service reacts to.

Orders (topup.orders.events.v1):
* a paid order confirmed FAILED, or REJECTED after the channel charged for it → its one refund, due one working
  day after the confirmation (voucher orders are not refunded in money: the order core returns the card), unless
  its payment's refunds would then pass what it paid (a REFUND_REFUSED case instead, see `RefundBook.request`);
* an order reaching UNDER_REVIEW → a review case; leaving it some other way than by the desk → the case closed;
* an order credited after all (reconciliation) → its refund cancelled if it never left, else a case;
* a refund asked for again (`RefundRequested`, the order core's watchdog: the first request or our settlement
  may have been lost) → the refund made if there is none, its settlement announced again if it settled.

Billing (topup.billing.events.v1): a reconciliation discrepancy → a review case.

Redelivered events change nothing twice: the inbox drops what was applied, and beyond it the refund is unique
per order and a case unique per open subject.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from refunds import repository as repo
from refunds.desk import ReviewDesk
from refunds.lifecycle import RefundBook
from topup.common.v1 import common_pb2
from topup.events.v1 import billing_pb2
from topup.events.v1 import orders_pb2 as order_events
from topup.orders.v1 import orders_pb2
from topup_platform import vocab
from topup_platform.consumer import EventContext, Handler
from topup_platform.logging import get_logger
from topup_platform.timeutil import from_timestamp, utcnow

log = get_logger(__name__)

S = orders_pb2


def _paid(order: orders_pb2.Order) -> bool:
    return order.payment.method != common_pb2.PAYMENT_METHOD_VOUCHER and order.payment.paid_fen > 0


def needs_refund(event: order_events.OrderStatusChanged) -> bool:
    return _paid(event.order) and event.change.to_status in (S.ORDER_STATUS_FAILED, S.ORDER_STATUS_REJECTED)


def relevant(event: order_events.OrderStatusChanged) -> bool:
    """Most of an order's events are none of our business: skipped without a transaction."""
    change = event.change
    return (needs_refund(event) or S.ORDER_STATUS_UNDER_REVIEW in (change.from_status, change.to_status)
            or change.transition == "reconcile_credited")


def order_handlers(book: RefundBook, desk: ReviewDesk) -> dict[type, Handler]:
    async def status_changed(ctx: EventContext, event: order_events.OrderStatusChanged) -> None:
        order, change = event.order, event.change
        if change.from_status == S.ORDER_STATUS_UNDER_REVIEW:
            await desk.order_left_review(ctx.conn, order, change)
        if change.to_status == S.ORDER_STATUS_UNDER_REVIEW:
            await desk.order_entered_review(ctx.conn, order, change)
        if change.transition == "reconcile_credited":
            left = await book.cancel(ctx.conn, UUID(order.order_id), "RECONCILED_CREDITED")
            if left is not None:
                log.warning("an order was credited after its refund had left; a person must look",
                            order_id=order.order_id, refund_status=left)
                await desk.refund_after_credit(ctx.conn, order, left)
        elif needs_refund(event):
            await request(ctx, order, from_timestamp(change.at) or utcnow())

    async def asked_again(ctx: EventContext, event: order_events.RefundRequested) -> None:
        """The order core asks again (its watchdog): the first request may have been lost, or our answer."""
        order = event.order
        refund = await repo.get_refund(ctx.conn, order_id=UUID(order.order_id))
        if refund is None:
            if _paid(order) and order.status in (S.ORDER_STATUS_FAILED, S.ORDER_STATUS_REJECTED):
                await request(ctx, order, from_timestamp(event.confirmed_at) or utcnow())
        elif refund["status"] == "SETTLED":
            await book.settled_again(ctx.conn, refund)
            ctx.after_commit(book.outbox.wake)
        # REQUESTED, SUBMITTED: the worker follows it; FAILED: a person's case; CANCELLED: credited after all

    async def request(ctx: EventContext, order: orders_pb2.Order, confirmed_at: datetime) -> None:
        created = await book.request(
            ctx.conn, order_id=UUID(order.order_id), channel_id=order.channel_id,
            payment_method=vocab.PAYMENT_METHOD_NAMES[order.payment.method],
            transaction_id=order.payment.transaction_id, amount_fen=order.payment.paid_fen,
            reason_code=order.status_reason_code, confirmed_at=confirmed_at,
            trace_context=dict(ctx.envelope.trace_context))
        if created is not None:
            ctx.after_commit(book.on_new_work)

    return {order_events.OrderStatusChanged: status_changed, order_events.RefundRequested: asked_again}


def billing_handlers(desk: ReviewDesk) -> dict[type, Handler]:
    async def discrepancy(ctx: EventContext, event: billing_pb2.ReconciliationDiscrepancy) -> None:
        await desk.discrepancy(ctx.conn, event.kind, event.order_id, event.transaction_id, event.detail,
                               event.run_id)

    return {billing_pb2.ReconciliationDiscrepancy: discrepancy}
