"""A refund's life, one transaction per step: requested → submitted → settled, or failed (for a person).

    REQUESTED ──provider accepted──▶ SUBMITTED ──provider settled──▶ SETTLED ──▶ RefundSettled (order REFUNDED)
    REQUESTED|SUBMITTED ──provider refused, or never answered──▶ FAILED ──▶ RefundFailed + a review case
    FAILED ──retry_refund (finance)──▶ REQUESTED          FAILED ──record_manual_refund (finance)──▶ SETTLED
    FAILED ──the provider settled it after all──▶ SETTLED (its case is closed by the system)
    REQUESTED, never sent ──BOSS credited the order after all──▶ CANCELLED

Every step is guarded by the statuses it may start from, so whichever of the worker, a provider's notice
and a member of staff comes second finds the refund moved on and does nothing twice. One refund per order
(a unique key), of exactly what was paid, under one refund id the provider is idempotent on: never twice,
never more. And never more than its payment paid, whatever orders name the payment: each payment has a ledger
row (`payments`), locked while a refund against it is decided; a refund that would take the payment's refunds
past what it paid is not made (a REFUND_REFUSED case for a person), and a cancelled one gives its amount back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from refunds import metrics
from refunds import repository as repo
from refunds.calendar_store import CalendarStore
from refunds.domain.review import REFUND_EXCEEDS_PAYMENT, CaseKind, Path
from topup.events.v1 import refunds_pb2 as refund_events
from topup_platform import telemetry
from topup_platform.events import REFUNDS_TOPIC
from topup_platform.logging import get_logger
from topup_platform.outbox import Outbox
from topup_platform.timeutil import to_timestamp, utcnow

log = get_logger(__name__)


class RefundBook:
    def __init__(self, outbox: Outbox, calendar: CalendarStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.outbox = outbox
        self.calendar = calendar
        self.clock = clock
        #: called after a transaction that created due work has committed (the worker starts at once)
        self.on_new_work: Callable[[], None] = lambda: None

    async def request(self, conn: asyncpg.Connection, *, order_id: UUID, channel_id: str, payment_method: str,
                      transaction_id: str, amount_fen: int, reason_code: str, confirmed_at: datetime,
                      trace_context: Mapping[str, str] | None = None,
                      payment_amount_fen: int | None = None) -> asyncpg.Record | None:
        """The order's one refund, due one working day after `confirmed_at`; None when it exists already, or
        when it is refused: the payment's refunds would pass what it paid (`payment_amount_fen`, by default the
        order's `amount_fen`, counts when this is the payment's first refund). `trace_context` is the order's
        (its calls to the provider join the order's trace)."""
        payment = await repo.lock_payment(conn, payment_method, transaction_id, payment_amount_fen or amount_fen)
        if await repo.get_refund(conn, order_id=order_id) is not None:
            return None  # a repeated event (decided under the payment's lock: a concurrent twin committed first)
        if payment["refunded_fen"] + amount_fen > payment["paid_fen"]:
            await self._refuse(conn, order_id, channel_id, amount_fen, payment)
            return None
        deadline_at, due_day = self.calendar.deadline(confirmed_at)
        row = await repo.insert_refund(conn, order_id=order_id, channel_id=channel_id, payment_method=payment_method,
                                       transaction_id=transaction_id, amount_fen=amount_fen, reason_code=reason_code,
                                       confirmed_at=confirmed_at, deadline_at=deadline_at,
                                       trace_context=trace_context or {})
        if row is not None:
            await repo.add_refunded(conn, payment_method, transaction_id, amount_fen)
            await repo.record_event(conn, row["refund_id"], "", "REQUESTED", "requested",
                                    f"{reason_code}; due by the end of {due_day.isoformat()} (Beijing time)")
            log.info("refund requested", refund_id=str(row["refund_id"]), order_id=str(order_id),
                     amount_fen=amount_fen, deadline_at=deadline_at.isoformat())
        return row

    async def _refuse(self, conn: asyncpg.Connection, order_id: UUID, channel_id: str, amount_fen: int,
                      payment: asyncpg.Record) -> None:
        """A refund that would pay back more than its payment paid is not made: a case says so, once per order
        (an event about the order that comes again, even after the case was closed, changes nothing)."""
        if await repo.order_had_case(conn, CaseKind.REFUND_REFUSED, order_id):
            return
        await repo.open_case(
            conn, kind=CaseKind.REFUND_REFUSED, subject=str(order_id), path=Path.NOTE, order_id=order_id,
            channel_id=channel_id, amount_fen=amount_fen, reason_code=REFUND_EXCEEDS_PAYMENT,
            detail=f"{amount_fen} fen asked back, but {payment['refunded_fen']} of the {payment['paid_fen']} fen its "
                   "payment paid are refunded or promised back already (another order names the same payment): "
                   "not sent to the provider")
        metrics.REFUSED.labels(REFUND_EXCEEDS_PAYMENT).inc()
        log.warning("refund refused: it would pay back more than the payment paid; a review case is open",
                    order_id=str(order_id), amount_fen=amount_fen, paid_fen=payment["paid_fen"],
                    refunded_fen=payment["refunded_fen"])

    async def submitted(self, conn: asyncpg.Connection, refund: asyncpg.Record, provider_refund_no: str,
                        poll_in: float) -> asyncpg.Record | None:
        row = await repo.update_refund(
            conn, refund["refund_id"], expect=["REQUESTED"], status="SUBMITTED", provider_refund_no=provider_refund_no,
            attempts=refund["attempts"] + 1, polls=0, last_error="", lease_owner=None, lease_until=None,
            next_attempt_at=self.clock() + timedelta(seconds=poll_in))
        if row is not None:
            await repo.record_event(conn, refund["refund_id"], "REQUESTED", "SUBMITTED", "provider_accepted",
                                    f"provider refund no {provider_refund_no}")
        return row

    async def later(self, conn: asyncpg.Connection, refund: asyncpg.Record, *, what: str, error: str, delay: float,
                    to_status: str | None = None, attempts: int | None = None, polls: int | None = None) -> None:
        """Try again after `delay` (a transient failure, or a settlement still to come)."""
        status = to_status or refund["status"]
        row = await repo.update_refund(
            conn, refund["refund_id"], expect=[refund["status"]], status=status, last_error=error[:500],
            attempts=refund["attempts"] if attempts is None else attempts,
            polls=refund["polls"] if polls is None else polls, lease_owner=None, lease_until=None,
            next_attempt_at=self.clock() + timedelta(seconds=delay))
        if row is not None and (what != "still_pending"):
            await repo.record_event(conn, refund["refund_id"], refund["status"], status, what, error)

    async def settle(self, conn: asyncpg.Connection, refund_id: UUID, *, by: str, what: str, actor: str = "refunds",
                     provider_refund_no: str = "", reference: str = "",
                     expect: tuple[str, ...] = ("REQUESTED", "SUBMITTED", "FAILED")) -> asyncpg.Record | None:
        """The money is back: SETTLED, RefundSettled (the order becomes REFUNDED), and a refund case still open
        for it closed. None when it was not in an `expect` status (settled already, cancelled)."""
        before = await repo.get_refund(conn, refund_id=refund_id, for_update=True)
        if before is None or before["status"] not in expect:
            return None
        now = self.clock()
        late = now > before["deadline_at"] and before["deadline_breached_at"] is None
        row = await repo.update_refund(
            conn, refund_id, expect=expect, status="SETTLED", settled_at=now, settled_by=by,
            provider_refund_no=provider_refund_no or before["provider_refund_no"], manual_reference=reference,
            lease_owner=None, lease_until=None, last_error="",
            deadline_breached_at=now if late else before["deadline_breached_at"])
        assert row is not None  # locked above
        await repo.record_event(conn, refund_id, before["status"], "SETTLED", what,
                                f"reference {reference}" if reference else "", actor)
        with telemetry.rejoin(row["trace_context"]):  # settled by a notice or a person: still the order's trace
            await self.outbox.add(conn, REFUNDS_TOPIC, self._settled_event(row), aggregate_type="order",
                                  aggregate_id=str(row["order_id"]))
        case = await repo.open_case_for(conn, CaseKind.REFUND_FAILED, str(refund_id), for_update=True)
        if case is not None and by == "provider":
            await repo.change_case(conn, case["case_id"], status="RESOLVED", resolution="settled_by_provider",
                                   resolved_by="refunds", resolved_at=now)
            await repo.record_action(conn, case["case_id"], "closed_by_system", "service", "refunds",
                                     reason="the provider settled the refund after all")
        if late:
            metrics.count_breach(row, now, settled=True)
        log.info("refund settled", refund_id=str(refund_id), order_id=str(row["order_id"]), by=by,
                 amount_fen=row["amount_fen"])
        return row

    async def settled_again(self, conn: asyncpg.Connection, refund: asyncpg.Record) -> None:
        """Announce a settled refund again (its order asked for it again: the first RefundSettled may have been
        lost). The same settlement, a new event; the order core takes a repeat as a repeat."""
        with telemetry.rejoin(refund["trace_context"]):
            await self.outbox.add(conn, REFUNDS_TOPIC, self._settled_event(refund), aggregate_type="order",
                                  aggregate_id=str(refund["order_id"]))
        metrics.REANNOUNCED.inc()

    @staticmethod
    def _settled_event(row: asyncpg.Record) -> refund_events.RefundSettled:
        return refund_events.RefundSettled(
            refund_id=str(row["refund_id"]), order_id=str(row["order_id"]), amount_fen=row["amount_fen"],
            settled_at=to_timestamp(row["settled_at"]), settled_by=row["settled_by"],
            provider_refund_no=row["provider_refund_no"])

    async def fail(self, conn: asyncpg.Connection, refund: asyncpg.Record, *, reason_code: str, detail: str,
                   path: Path, attempts: int | None = None) -> asyncpg.Record | None:
        """The provider will not pay this refund (or never answered): FAILED, RefundFailed, and a case."""
        row = await repo.update_refund(conn, refund["refund_id"], expect=["REQUESTED", "SUBMITTED"], status="FAILED",
                                       last_error=f"{reason_code}: {detail}"[:500], lease_owner=None,
                                       lease_until=None,
                                       attempts=refund["attempts"] if attempts is None else attempts)
        if row is None:
            return None
        await repo.record_event(conn, row["refund_id"], refund["status"], "FAILED", "failed",
                                f"{reason_code}: {detail}")
        with telemetry.rejoin(row["trace_context"]):  # refused by a notice: still the order's trace
            await self.outbox.add(conn, REFUNDS_TOPIC, refund_events.RefundFailed(
                refund_id=str(row["refund_id"]), order_id=str(row["order_id"]), reason_code=reason_code,
                reason=detail, at=to_timestamp(self.clock())), aggregate_type="order",
                aggregate_id=str(row["order_id"]))
        await repo.open_case(conn, kind=CaseKind.REFUND_FAILED, subject=str(row["refund_id"]), path=path,
                             order_id=row["order_id"], refund_id=row["refund_id"], channel_id=row["channel_id"],
                             amount_fen=row["amount_fen"], reason_code=reason_code, detail=detail)
        log.warning("refund failed; a review case is open", refund_id=str(row["refund_id"]),
                    order_id=str(row["order_id"]), reason_code=reason_code)
        return row

    async def retry(self, conn: asyncpg.Connection, refund_id: UUID, actor: str) -> asyncpg.Record | None:
        """A failed refund goes to the provider again, under the same refund id (finance's retry_refund)."""
        row = await repo.update_refund(conn, refund_id, expect=["FAILED"], status="REQUESTED", attempts=0, polls=0,
                                       next_attempt_at=self.clock(), last_error="")
        if row is not None:
            await repo.record_event(conn, refund_id, "FAILED", "REQUESTED", "retried_by_staff", actor=actor)
        return row

    async def cancel(self, conn: asyncpg.Connection, order_id: UUID, reason_code: str) -> str | None:
        """BOSS credited the order after all: a refund the provider has never been asked for is cancelled.
        Returns the refund's status when it could not be (it was sent, may have been, or is paid): a person
        must then recover the money or write it off."""
        refund = await repo.get_refund(conn, order_id=order_id, for_update=True)
        if refund is None:
            return None
        lease = refund["lease_until"]
        never_sent = refund["status"] == "REQUESTED" and refund["attempts"] == 0 and (
            lease is None or lease < self.clock())
        if not never_sent:
            return str(refund["status"])
        await repo.update_refund(conn, refund["refund_id"], expect=["REQUESTED"], status="CANCELLED",
                                 reason_code=reason_code, lease_owner=None, lease_until=None)
        await repo.add_refunded(conn, refund["payment_method"], refund["payment_transaction_id"],
                                -refund["amount_fen"])
        await repo.record_event(conn, refund["refund_id"], "REQUESTED", "CANCELLED", "cancelled", reason_code)
        return None
