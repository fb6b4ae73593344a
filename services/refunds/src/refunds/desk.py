"""The manual review desk (人工复核, F10): cases opened from events, worked by staff through the admin API.

Cases open themselves: an order reaching UNDER_REVIEW (an ambiguous BOSS outcome, a risk REVIEW or large
amount, a half-delivered combo, an order stuck for 30 minutes), a refund that failed for good, a
reconciliation discrepancy. One case is open per subject at a time. A case whose order leaves review some
other way (BOSS answered late, reconciliation found the credit) is closed by the system, with the reason.

A decision holds the case's row lock from the check to the record, so two people acting on one case at the
same moment are served one after the other: the second finds it resolved. Before an order is declared not
credited (or a held one rejected), the BOSS adapter is told to stop: it refuses while a call to BOSS may be
in the air, so a person never refunds an order that BOSS is still crediting. The order core applies a
decision once per case (the case id is the decision id), so a decision retried after a lost reply does not
move the order twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from refunds import repository as repo
from refunds.domain.review import (
    ORDER_DECISIONS,
    Action,
    CaseKind,
    Path,
    check_action,
    check_second_person,
    needs_four_eyes,
    parse_action,
    role_for,
    second_signature_role,
)
from refunds.lifecycle import RefundBook
from refunds.provider import Accepted, ProviderClient, Transient
from topup.billing.v1 import billing_pb2, billing_pb2_grpc
from topup.common.v1 import common_pb2
from topup.orders.v1 import orders_pb2, orders_pb2_grpc
from topup_platform import identifiers
from topup_platform.errors import FailedPrecondition, InvalidArgument, NotFound, RemoteError, Unavailable
from topup_platform.grpc_client import call
from topup_platform.logging import get_logger
from topup_platform.timeutil import utcnow

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: str
    roles: frozenset[str]


def _case_id(value: str) -> UUID:
    try:
        return identifiers.parse_uuid(value)
    except ValueError:
        raise NotFound("no such review case", code="CASE_NOT_FOUND") from None


def _snapshot(case: asyncpg.Record) -> dict[str, Any]:
    return {k: case[k] for k in ("status", "assignee", "proposed_action", "proposed_by", "resolution", "version")}


def _reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < 3:
        raise InvalidArgument("say why (a reason of at least 3 characters): it goes into the audit trail")
    return reason[:2000]


class ReviewDesk:
    def __init__(self, pool: asyncpg.Pool, book: RefundBook, provider: ProviderClient,
                 orders: orders_pb2_grpc.OrdersServiceStub, billing: billing_pb2_grpc.BillingServiceStub, *,
                 four_eyes_threshold_fen: int, peer_timeout: float,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.pool = pool
        self.book = book
        self.provider = provider
        self.orders = orders
        self.billing = billing
        self.threshold = four_eyes_threshold_fen
        self.timeout = peer_timeout
        self.clock = clock

    # --- staff ---------------------------------------------------------------------------------------

    async def assign(self, case_id: str, assignee: str, staff: StaffMember) -> UUID:
        cid = _case_id(case_id)
        async with self.pool.acquire() as conn, conn.transaction():
            case = await self._lock_open(conn, cid)
            who = assignee.strip() or staff.id
            after = await repo.change_case(conn, cid, assignee=who)
            await repo.record_action(conn, cid, "assigned", "staff", staff.id, role=",".join(sorted(staff.roles)),
                                     reason=f"assigned to {who}", before=_snapshot(case), after=_snapshot(after))
        return cid

    async def decide(self, case_id: str, action_name: str, reason: str, staff: StaffMember,
                     reference: str = "") -> UUID:
        cid, action, why = _case_id(case_id), parse_action(action_name), _reason(reason)
        after_commit: list[Callable[[], None]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            case = await self._lock_open(conn, cid)
            if case["status"] == "AWAITING_SECOND_APPROVAL":
                raise FailedPrecondition(
                    f"{case['proposed_by']} proposed {case['proposed_action']}; it awaits a second approval",
                    code="CASE_AWAITING_SECOND_APPROVAL")
            check_action(Path(case["path"]), action)
            role = role_for(action, staff.roles)
            if action is Action.RECORD_MANUAL_REFUND and not reference.strip():
                raise InvalidArgument("record_manual_refund needs the reference of the payment made")
            if needs_four_eyes(case["amount_fen"], self.threshold):
                after = await repo.change_case(conn, cid, status="AWAITING_SECOND_APPROVAL",
                                               proposed_action=action.value, proposed_by=staff.id,
                                               proposed_reason=why, proposed_reference=reference.strip())
                await repo.record_action(conn, cid, "proposed", "staff", staff.id, role=role,
                                         reason=f"{action.value}: {why}", before=_snapshot(case),
                                         after=_snapshot(after))
                log.info("review decision proposed; a second person must approve it", case_id=str(cid),
                         action=action.value, staff=staff.id, amount_fen=case["amount_fen"])
                return cid
            await self._carry_out(conn, case, action, staff.id, role, why, reference.strip(), after_commit)
        for callback in after_commit:
            callback()
        return cid

    async def approve(self, case_id: str, reason: str, staff: StaffMember) -> UUID:
        cid, why = _case_id(case_id), _reason(reason)
        after_commit: list[Callable[[], None]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            case = await self._lock_open(conn, cid)
            if case["status"] != "AWAITING_SECOND_APPROVAL":
                raise FailedPrecondition("nothing was proposed on this case", code="NO_PROPOSAL")
            action = Action(case["proposed_action"])
            check_second_person(case["proposed_by"], staff.id)
            role = second_signature_role(action, staff.roles)
            await repo.record_action(conn, cid, "approved", "staff", staff.id, role=role,
                                     reason=f"{action.value} proposed by {case['proposed_by']}: {why}")
            await self._carry_out(
                conn, case, action, staff.id, role,
                f"{case['proposed_reason']} (proposed by {case['proposed_by']}, approved by {staff.id}: {why})",
                case["proposed_reference"], after_commit, resolved_by=f"{case['proposed_by']}+{staff.id}")
        for callback in after_commit:
            callback()
        return cid

    async def decline(self, case_id: str, reason: str, staff: StaffMember) -> UUID:
        cid, why = _case_id(case_id), _reason(reason)
        async with self.pool.acquire() as conn, conn.transaction():
            case = await self._lock_open(conn, cid)
            if case["status"] != "AWAITING_SECOND_APPROVAL":
                raise FailedPrecondition("nothing was proposed on this case", code="NO_PROPOSAL")
            role = second_signature_role(Action(case["proposed_action"]), staff.roles)
            after = await repo.change_case(conn, cid, status="OPEN", proposed_action="", proposed_by="",
                                           proposed_reason="", proposed_reference="")
            await repo.record_action(conn, cid, "declined", "staff", staff.id, role=role,
                                     reason=f"{case['proposed_action']} by {case['proposed_by']} declined: {why}",
                                     before=_snapshot(case), after=_snapshot(after))
        return cid

    async def _lock_open(self, conn: asyncpg.Connection, cid: UUID) -> asyncpg.Record:
        case = await repo.get_case(conn, cid, for_update=True)
        if case is None:
            raise NotFound("no such review case", code="CASE_NOT_FOUND")
        if case["status"] == "RESOLVED":
            raise FailedPrecondition(f"already resolved: {case['resolution']} by {case['resolved_by']}",
                                     code="CASE_ALREADY_RESOLVED")
        return case

    async def _carry_out(self, conn: asyncpg.Connection, case: asyncpg.Record, action: Action, staff_id: str,
                         role: str, reason: str, reference: str, after_commit: list[Callable[[], None]], *,
                         resolved_by: str = "") -> None:
        outcome: dict[str, Any] = {}
        after_commit.append(self.book.outbox.wake)
        if action in ORDER_DECISIONS:
            outcome = await self._decide_order(case, action, staff_id, reason)
        elif action is Action.RETRY_REFUND:
            if await self.book.retry(conn, case["refund_id"], staff_id) is None:
                raise FailedPrecondition("the refund is no longer failed", code="REFUND_NOT_FAILED")
            after_commit.append(self.book.on_new_work)
            outcome = {"refund_status": "REQUESTED"}
        elif action is Action.RECORD_MANUAL_REFUND:
            await self._check_not_at_provider(conn, case["refund_id"])
            if await self.book.settle(conn, case["refund_id"], by="manual", what="paid_back_by_finance",
                                      actor=staff_id, reference=reference, expect=("FAILED",)) is None:
                raise FailedPrecondition("the refund is no longer failed", code="REFUND_NOT_FAILED")
            outcome = {"refund_status": "SETTLED", "reference": reference}
        now = self.clock()
        after = await repo.change_case(conn, case["case_id"], status="RESOLVED", resolution=action.value,
                                       resolved_by=resolved_by or staff_id, resolved_at=now)
        await repo.record_action(conn, case["case_id"], "resolved", "staff", staff_id, role=role,
                                 reason=f"{action.value}: {reason}", before=_snapshot(case),
                                 after={**_snapshot(after), **outcome})
        log.info("review case resolved", case_id=str(case["case_id"]), action=action.value, staff=staff_id,
                 role=role, **{k: str(v) for k, v in outcome.items()})

    async def _decide_order(self, case: asyncpg.Record, action: Action, staff_id: str, reason: str) -> dict[str, Any]:
        order_id = str(case["order_id"])
        try:
            if action in (Action.CONFIRM_CREDITED, Action.CONFIRM_NOT_CREDITED, Action.REJECT_HELD):
                fulfilment = await call(self.billing.StopFulfilment(
                    billing_pb2.StopFulfilmentRequest(order_id=order_id, actor=f"staff:{staff_id}"),
                    timeout=self.timeout))
                if action is Action.CONFIRM_NOT_CREDITED and fulfilment.state == "succeeded":
                    raise FailedPrecondition("the BOSS adapter has this order credited at BOSS: confirm_credited",
                                             code="BOSS_CONFIRMED_CREDITED")
            order = await call(self.orders.ApplyReviewDecision(orders_pb2.ApplyReviewDecisionRequest(
                order_id=order_id, decision=action.value, decision_id=str(case["case_id"]),
                actor=common_pb2.Actor(kind=common_pb2.Actor.KIND_STAFF, id=staff_id), reason=reason),
                timeout=self.timeout))
        except RemoteError as err:
            if err.status.name in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                raise Unavailable(f"{err.message}; nothing was decided, try again", code="SERVICE_UNAVAILABLE") \
                    from err
            raise FailedPrecondition(err.message, code=err.code, **err.metadata) from err
        return {"order_status": orders_pb2.OrderStatus.Name(order.status).removeprefix("ORDER_STATUS_")}

    async def _check_not_at_provider(self, conn: asyncpg.Connection, refund_id: UUID) -> None:
        """Paying back by hand is only safe when the provider will never pay this refund itself."""
        refund = await repo.get_refund(conn, refund_id=refund_id)
        if refund is None:
            raise NotFound("no such refund", code="REFUND_NOT_FOUND")
        answer = await self.provider.query(refund["payment_method"], str(refund_id))
        if isinstance(answer, Transient):
            raise Unavailable(f"the provider did not answer ({answer.error}); try again",
                              code="PROVIDER_UNAVAILABLE")
        if isinstance(answer, Accepted):
            raise FailedPrecondition(
                f"the provider has this refund ({'settled' if answer.settled else 'accepted'}): it pays it itself",
                code="REFUND_AT_PROVIDER")

    # --- cases the system opens and closes (called by the event consumers, in their transaction) ----

    async def order_entered_review(self, conn: asyncpg.Connection, order: orders_pb2.Order,
                                   change: orders_pb2.StatusChange) -> None:
        path = Path.HELD if change.transition == "hold_for_review" else Path.AMBIGUOUS
        amount = order.payment.paid_fen or order.price_fen
        await repo.open_case(conn, kind=CaseKind.ORDER_UNDER_REVIEW, subject=order.order_id, path=path,
                             order_id=UUID(order.order_id), channel_id=order.channel_id, amount_fen=amount,
                             reason_code=order.status_reason_code or change.transition.upper(),
                             detail=change.reason or change.transition, actor=change.actor.id or "orders")

    async def order_left_review(self, conn: asyncpg.Connection, order: orders_pb2.Order,
                                change: orders_pb2.StatusChange) -> None:
        case = await repo.open_case_for(conn, CaseKind.ORDER_UNDER_REVIEW, order.order_id, for_update=True)
        if case is None:
            return  # resolved by the desk itself (or never opened)
        by_staff = change.actor.kind == common_pb2.Actor.KIND_STAFF
        after = await repo.change_case(conn, case["case_id"], status="RESOLVED", resolution=change.transition,
                                       resolved_by=change.actor.id, resolved_at=self.clock())
        await repo.record_action(
            conn, case["case_id"], "resolved" if by_staff else "closed_by_system",
            "staff" if by_staff else "service", change.actor.id,
            reason=f"the order left review: {change.transition} ({change.reason_code or change.reason})",
            before=_snapshot(case), after=_snapshot(after))

    async def refund_after_credit(self, conn: asyncpg.Connection, order: orders_pb2.Order, refund_status: str) -> None:
        await repo.open_case(
            conn, kind=CaseKind.REFUND_AFTER_CREDIT, subject=order.order_id, path=Path.NOTE,
            order_id=UUID(order.order_id), channel_id=order.channel_id, amount_fen=order.payment.paid_fen,
            reason_code="CREDITED_AND_REFUNDED",
            detail=f"BOSS credited the order after its refund was {refund_status}: recover or write off the money")

    async def discrepancy(self, conn: asyncpg.Connection, kind: str, order_id: str, transaction_id: str,
                          detail: str, run_id: str) -> None:
        await repo.open_case(
            conn, kind=CaseKind.RECONCILIATION_DISCREPANCY, subject=f"{kind}:{transaction_id or order_id}",
            path=Path.NOTE, order_id=UUID(order_id) if order_id else None, reason_code=kind,
            detail=f"{detail} (reconciliation run {run_id})", actor="reconciliation")
