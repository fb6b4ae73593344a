"""Order events the refund service reacts to: a paid order that failed gets one refund request."""

from __future__ import annotations

from uuid import UUID

from topup.common.v1 import common_pb2
from topup.events.v1 import orders_pb2 as order_events
from topup.orders.v1 import orders_pb2
from topup_platform import vocab
from topup_platform.consumer import EventContext, Handler
from topup_platform.ids import new_id
from topup_platform.logging import get_logger

log = get_logger(__name__)


def needs_refund(event: order_events.OrderStatusChanged) -> bool:
    """A paid order that failed, or one credited after all (reconciliation): the rest of an order's events
    are none of our business."""
    order = event.order
    paid = order.payment.method != common_pb2.PAYMENT_METHOD_VOUCHER and order.payment.paid_fen > 0
    return paid and (event.change.to_status == orders_pb2.ORDER_STATUS_FAILED
                     or event.change.transition == "reconcile_credited")


def order_handlers() -> dict[type, Handler]:
    async def status_changed(ctx: EventContext, event: order_events.OrderStatusChanged) -> None:
        order = event.order
        if event.change.transition == "reconcile_credited":
            # BOSS credited it after all: a refund not yet paid out is cancelled.
            status = await ctx.conn.fetchval(
                """UPDATE refunds SET status = 'CANCELLED', reason_code = 'RECONCILED_CREDITED', updated_at = now()
                   WHERE order_id = $1 AND status = 'REQUESTED' RETURNING status""", UUID(order.order_id))
            if status is None:
                log.warning("an order was credited after its refund had left; a person must look",
                            order_id=order.order_id)
            return
        await ctx.conn.execute(
            """INSERT INTO refunds (refund_id, order_id, channel_id, payment_method, payment_transaction_id,
                                    amount_fen, status, reason_code)
               VALUES ($1, $2, $3, $4, $5, $6, 'REQUESTED', $7) ON CONFLICT (order_id) DO NOTHING""",
            new_id(), UUID(order.order_id), order.channel_id, vocab.PAYMENT_METHOD_NAMES[order.payment.method],
            order.payment.transaction_id, order.payment.paid_fen, order.status_reason_code,
        )

    return {order_events.OrderStatusChanged: status_changed}
