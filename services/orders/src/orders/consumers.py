"""Events the order core reacts to: the billing adapter's fulfilment outcomes move the order on."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from orders.domain.state import Transition
from orders.service import Move, OrdersService
from topup.events.v1 import billing_pb2
from topup.events.v1.envelope_pb2 import EventEnvelope
from topup_platform.consumer import BatchHandler, EventContext, Handler

BILLING = "billing-adapter"


def billing_handlers(service: OrdersService) -> dict[type, Handler]:
    async def transition(ctx: EventContext, order_id: str, transition: Transition, **why: str) -> None:
        await service.transition(ctx.conn, UUID(order_id), transition, actor_kind="service", actor_id=BILLING, **why)
        ctx.after_commit(service.outbox.wake)

    async def started(ctx: EventContext, event: billing_pb2.FulfilmentStarted) -> None:
        await transition(ctx, event.order_id, Transition.START_FULFILMENT)

    async def succeeded(ctx: EventContext, event: billing_pb2.FulfilmentSucceeded) -> None:
        await transition(ctx, event.order_id, Transition.SUCCEED,
                         reason=f"credited at BOSS after {event.attempts} attempt(s)")

    async def failed(ctx: EventContext, event: billing_pb2.FulfilmentFailed) -> None:
        await transition(ctx, event.order_id, Transition.FAIL, reason_code=event.reason_code, reason=event.reason)

    async def unknown(ctx: EventContext, event: billing_pb2.FulfilmentOutcomeUnknown) -> None:
        await transition(ctx, event.order_id, Transition.OUTCOME_UNKNOWN, reason_code=event.reason_code,
                         reason=event.reason)

    return {
        billing_pb2.FulfilmentStarted: started,
        billing_pb2.FulfilmentSucceeded: succeeded,
        billing_pb2.FulfilmentFailed: failed,
        billing_pb2.FulfilmentOutcomeUnknown: unknown,
    }


def billing_moves(service: OrdersService) -> BatchHandler:
    """A whole poll of billing events as transitions in three statements (see `transition_many`)."""

    def move(envelope: EventEnvelope, event: Any) -> Move:
        why: dict[str, str] = {}
        if isinstance(event, billing_pb2.FulfilmentStarted):
            transition = Transition.START_FULFILMENT
        elif isinstance(event, billing_pb2.FulfilmentSucceeded):
            transition, why = Transition.SUCCEED, {"reason": f"credited at BOSS after {event.attempts} attempt(s)"}
        elif isinstance(event, billing_pb2.FulfilmentFailed):
            transition, why = Transition.FAIL, {"reason_code": event.reason_code, "reason": event.reason}
        else:
            transition, why = Transition.OUTCOME_UNKNOWN, {"reason_code": event.reason_code, "reason": event.reason}
        return Move(UUID(event.order_id), transition, "service", BILLING, trace_context=dict(envelope.trace_context),
                    **why)

    async def apply(ctx: EventContext, events: list[tuple[EventEnvelope, Any]]) -> None:
        await service.transition_many(ctx.conn, [move(envelope, event) for envelope, event in events])
        ctx.after_commit(service.outbox.wake)

    return apply
