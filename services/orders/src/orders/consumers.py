"""Events the order core reacts to: the billing adapter's fulfilment outcomes move orders on, settled refunds
make orders REFUNDED, and the numbers BOSS publishes as ported update the routing table."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from orders import metrics, repository
from orders.domain.state import Transition
from orders.service import Move, OrdersService
from topup.events.v1 import billing_pb2
from topup.events.v1 import refunds_pb2 as refund_events
from topup.events.v1.envelope_pb2 import EventEnvelope
from topup_platform import telemetry
from topup_platform.consumer import BatchHandler, EventContext, Handler
from topup_platform.timeutil import from_timestamp

BILLING = "billing-adapter"


def billing_handlers(service: OrdersService) -> dict[type, Handler]:
    """One event at a time (the fallback when a poll cannot be applied together): the same effects."""

    async def transition(ctx: EventContext, event: Any) -> None:
        with metrics.deferred() as count:
            await service.transition_many(ctx.conn, [move(ctx.envelope, event)])
        ctx.after_commit(count)
        ctx.after_commit(service.outbox.wake)

    async def ported(ctx: EventContext, event: billing_pb2.NumberPorted) -> None:
        await repository.upsert_ported(ctx.conn, [(event.number, event.carrier, from_timestamp(event.ported_at))])

    async def repaired(ctx: EventContext, event: billing_pb2.ReconciliationRepaired) -> None:
        with metrics.deferred() as count:
            await service.credited_per_boss(ctx.conn, UUID(event.order_id), _repair_reason(event))
        ctx.after_commit(count)
        ctx.after_commit(service.outbox.wake)

    return {
        billing_pb2.ReconciliationRepaired: repaired,
        billing_pb2.FulfilmentStarted: transition,
        billing_pb2.FulfilmentSucceeded: transition,
        billing_pb2.FulfilmentFailed: transition,
        billing_pb2.FulfilmentOutcomeUnknown: transition,
        billing_pb2.NumberPorted: ported,
    }


_FULFILMENT = (billing_pb2.FulfilmentStarted, billing_pb2.FulfilmentSucceeded, billing_pb2.FulfilmentFailed,
               billing_pb2.FulfilmentOutcomeUnknown)


def _repair_reason(event: billing_pb2.ReconciliationRepaired) -> str:
    return f"BOSS's ledger shows {', '.join(event.transaction_ids)} credited (reconciliation run {event.run_id})"


def move(envelope: EventEnvelope, event: Any) -> Move:
    """The order transition a billing outcome asks for (a word the adapter may announce again: repeatable)."""
    why: dict[str, str] = {}
    if isinstance(event, billing_pb2.FulfilmentStarted):
        transition = Transition.START_FULFILMENT
    elif isinstance(event, billing_pb2.FulfilmentSucceeded):
        return Move(UUID(event.order_id), Transition.SUCCEED, "service", BILLING,
                    reason=f"credited at BOSS after {event.attempts} attempt(s)",
                    trace_context=dict(envelope.trace_context), occurred_at=from_timestamp(event.completed_at),
                    repeatable=True)
    elif isinstance(event, billing_pb2.FulfilmentFailed) and event.partially_fulfilled:
        transition, why = Transition.PARTIALLY_FULFILLED, {
            "reason_code": "COMBO_PARTIALLY_FULFILLED",
            "reason": f"{event.reason_code} after delivering {', '.join(event.delivered_transaction_ids)}"}
    elif isinstance(event, billing_pb2.FulfilmentFailed):
        transition, why = Transition.FAIL, {"reason_code": event.reason_code, "reason": event.reason}
    else:
        transition, why = Transition.OUTCOME_UNKNOWN, {"reason_code": event.reason_code, "reason": event.reason}
    return Move(UUID(event.order_id), transition, "service", BILLING, why.get("reason_code", ""), why.get("reason", ""),
                trace_context=dict(envelope.trace_context), repeatable=True)


def billing_moves(service: OrdersService) -> BatchHandler:
    """A whole poll of billing events in a few statements: the transitions (see `transition_many`) and the
    ported numbers."""

    async def apply(ctx: EventContext, events: list[tuple[EventEnvelope, Any]]) -> None:
        ported = [(e.number, e.carrier, from_timestamp(e.ported_at)) for _, e in events
                  if isinstance(e, billing_pb2.NumberPorted)]
        moves = [move(envelope, e) for envelope, e in events if isinstance(e, _FULFILMENT)]
        if ported:
            await repository.upsert_ported(ctx.conn, ported)
        with metrics.deferred() as count:
            if moves:
                await service.transition_many(ctx.conn, moves)
            for envelope, e in events:  # rare: one by one, after the fulfilment outcomes of the same poll
                if isinstance(e, billing_pb2.ReconciliationRepaired):
                    with telemetry.attached(envelope.trace_context):  # its event continues the repair's trace
                        await service.credited_per_boss(ctx.conn, UUID(e.order_id), _repair_reason(e))
        ctx.after_commit(count)
        ctx.after_commit(service.outbox.wake)

    return apply


def refund_handlers(service: OrdersService) -> dict[type, Handler]:
    """The refund service's word: a settled refund makes the order REFUNDED."""

    async def settled(ctx: EventContext, event: refund_events.RefundSettled) -> None:
        how = "paid back by finance" if event.settled_by == "manual" else "settled by the payment provider"
        with metrics.deferred() as count:
            await service.refund_settled(ctx.conn, UUID(event.order_id),
                                         f"refund {event.refund_id} of {event.amount_fen} fen {how}")
        ctx.after_commit(count)
        ctx.after_commit(service.outbox.wake)

    return {refund_events.RefundSettled: settled}
