"""Use cases of the order core."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
from google.protobuf.message import Message

from orders import convert, metrics, repository
from orders import voucher_repository as vrepo
from orders.catalog import Catalog, CatalogSnapshot
from orders.domain import statement
from orders.domain.accounts import UNICOM, Account, AccountType, carrier_of
from orders.domain.catalog import PricedProduct, Product
from orders.domain.errors import (
    AccountNotServed,
    CursorInvalid,
    IdempotencyConflict,
    InvalidRequest,
    OrderNotFound,
    OrdersError,
    PaymentAlreadyUsed,
    ReviewActionNotApplicable,
    SkuUnknown,
)
from orders.domain.models import (
    Order,
    PaymentMethod,
    RechargeRequest,
    RiskDecision,
    RiskOutcome,
    StatusChange,
    operations_for,
)
from orders.domain.redrive import Ask, ask_again
from orders.domain.state import Status, Transition, catch_up, next_status
from orders.domain.vouchers import CardTransition
from topup.events.v1 import orders_pb2 as order_events_pb2
from topup.orders.v1 import orders_pb2
from topup_platform import identifiers, telemetry
from topup_platform.events import ORDERS_TOPIC
from topup_platform.ids import new_id
from topup_platform.logging import get_logger
from topup_platform.outbox import Outbox
from topup_platform.timeutil import to_timestamp, utcnow

log = get_logger(__name__)

@dataclass(frozen=True, slots=True)
class Move:
    """A named transition asked of one order, by whom, and why."""

    order_id: UUID
    transition: Transition
    actor_kind: str
    actor_id: str
    reason_code: str = ""
    reason: str = ""
    #: the trace of the request or event that caused it (its event continues that trace)
    trace_context: Mapping[str, str] | None = None
    #: when its cause happened, where that is not when it is recorded (BOSS's credit: the arrival time ends there)
    occurred_at: datetime | None = None
    #: another service's word that may come again or out of turn (an outcome announced once more after a
    #: re-drive): applied as `catch_up` says, so a repeat changes nothing
    repeatable: bool = False


def encode_cursor(created_at: datetime, order_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{order_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        at, order_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
        return datetime.fromisoformat(at), UUID(order_id)
    except (ValueError, UnicodeDecodeError):
        raise CursorInvalid("the cursor is not one this API gave out") from None


_HELD_DECISIONS = frozenset({Transition.APPROVE, Transition.REJECT_HELD})
_REVIEW_DECISIONS = _HELD_DECISIONS | {Transition.CONFIRM_CREDITED, Transition.CONFIRM_NOT_CREDITED}
_REVIEW_REASON_CODES = {Transition.CONFIRM_NOT_CREDITED: "REVIEW_CONFIRMED_NOT_CREDITED",
                        Transition.REJECT_HELD: "REVIEW_REJECTED"}

_FIRST_TRANSITION = {
    RiskOutcome.ALLOW: (Transition.ACCEPT, ""),
    RiskOutcome.REVIEW: (Transition.HOLD_FOR_REVIEW, "RISK_REVIEW"),
    RiskOutcome.DENY: (Transition.REJECT, "RISK_DENIED"),
}


class OrdersService:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, catalog: Catalog) -> None:
        self.pool = pool
        self.outbox = outbox
        self.catalog = catalog

    # --- pre-flight --------------------------------------------------------------------------------

    async def carrier(self, conn: asyncpg.Connection, account: Account) -> str | None:
        ported = await repository.ported_carrier(conn, account.id) if account.type is AccountType.MOBILE else None
        return carrier_of(account, self.catalog.snapshot.segments, ported)

    async def list_products(self, channel_id: str, account: Account) -> tuple[str, list[PricedProduct]]:
        async with self.pool.acquire() as conn:
            carrier = await self.carrier(conn, account)
        if carrier != UNICOM:
            raise AccountNotServed("we do not serve this account", carrier=carrier or "unknown")
        return carrier, self.catalog.snapshot.offer(channel_id, account)

    # --- creation ----------------------------------------------------------------------------------

    async def create_recharge(self, req: RechargeRequest, decision: RiskDecision) -> tuple[orders_pb2.Order, bool]:
        """Create the order, or replay the response stored for the same request. Returns (order, replayed)."""
        result = (await self.create_recharges([(req, decision, telemetry.inject_context())]))[0]
        if isinstance(result, OrdersError):
            raise result
        return result

    async def create_recharges(
        self, items: list[tuple[RechargeRequest, RiskDecision, Mapping[str, str]]]
    ) -> list[tuple[orders_pb2.Order, bool] | OrdersError]:
        """Create many orders at once (the gateway coalesces concurrent requests): one statement writes every
        new order with its history and events (`repository.create_orders`). For each item: (the response,
        replayed?) or the error that item alone gets. A request that fails a check is first looked up as a
        possible retry of an order accepted earlier, which is answered even if prices or routing changed.
        Each item's events carry that item's own trace context."""
        results: list[tuple[orders_pb2.Order, bool] | OrdersError | None] = [None] * len(items)
        prepared: list[tuple[int, RechargeRequest, repository.NewOrder]] = []
        failed: list[tuple[int, RechargeRequest, OrdersError]] = []
        snapshot = self.catalog.snapshot
        for i, (req, decision, trace_context) in enumerate(items):
            try:
                prepared.append((i, req, self._new_order(req, decision, snapshot, trace_context)))
            except OrdersError as err:
                failed.append((i, req, err))
        async with self.pool.acquire() as conn:
            written = await repository.create_orders(conn, [n for _, _, n in prepared]) if prepared else {}
            for i, req, new in prepared:
                inserted, carrier = written[new.order.order_id]
                if inserted:
                    results[i] = (orders_pb2.Order.FromString(new.first_response), False)
                    metrics.observe([(new.order, new.change)])
                    with telemetry.attached(items[i][2]):  # the line belongs to this order's request and trace
                        log.info("order created", order_id=str(new.order.order_id), channel=req.channel_id,
                                 sku=req.sku, status=new.order.status.value)
                elif carrier != UNICOM:
                    failed.append((i, req, AccountNotServed("we do not serve this account",
                                                            carrier=carrier or "unknown")))
                else:  # a retry, an identical request that won the race, or a payment that backs another order
                    failed.append((i, req, PaymentAlreadyUsed()))
            for i, req, refusal in failed:
                try:
                    replay = await self.replay(conn, req.channel_id, req.channel_order_id, req.fingerprint())
                except OrdersError as conflict:
                    results[i] = conflict
                else:
                    if replay is None and isinstance(refusal, PaymentAlreadyUsed):
                        refusal = await self._payment_used(conn, req)
                    results[i] = (replay, True) if replay is not None else refusal
        if len(failed) < len(prepared) + len(failed):
            self.outbox.wake()
        return [r for r in results if r is not None]

    @staticmethod
    async def _payment_used(conn: asyncpg.Connection, req: RechargeRequest) -> PaymentAlreadyUsed:
        """The refusal of a payment that backs another order (named only when it is this channel's own)."""
        used_by = await repository.order_using_payment(conn, req.channel_id, req.payment)
        log.warning("payment already used", channel=req.channel_id, method=req.payment.method.value,
                    order_id=str(used_by) if used_by else "")
        return PaymentAlreadyUsed(
            "this payment (method and transaction_id) already backs another order: one payment, one order",
            **({"order_id": str(used_by)} if used_by else {}))

    def _new_order(self, req: RechargeRequest, decision: RiskDecision, snapshot: CatalogSnapshot,
                   trace_context: Mapping[str, str]) -> repository.NewOrder:
        if decision.outcome not in _FIRST_TRANSITION:
            raise InvalidRequest(f"an order cannot be created on a {decision.outcome.value} decision")
        product, price = snapshot.check_price(req.channel_id, req.account, req.sku, req.payment.paid_fen)
        transition, reason_code = _FIRST_TRANSITION[decision.outcome]
        if decision.outcome is RiskOutcome.DENY and decision.reason_code:
            reason_code = decision.reason_code  # why the risk engine refused: RISK_BLOCKLISTED, RISK_VELOCITY...
        now = utcnow()
        order = Order(
            order_id=new_id(), channel_id=req.channel_id, channel_order_id=req.channel_order_id,
            account=req.account, sku=req.sku, face_value_fen=product.face_value_fen, price_fen=price,
            payment=req.payment, status=next_status(None, transition), status_reason_code=reason_code,
            notify_url=req.notify_url, risk_decision_id=decision.decision_id, created_at=now, updated_at=now,
        )
        return self.new_order_record(order, product, transition, req.fingerprint(), decision, trace_context)

    def new_order_record(self, order: Order, product: Product, transition: Transition, fingerprint: bytes,
                         decision: RiskDecision, trace_context: Mapping[str, str]) -> repository.NewOrder:
        """What creating `order` writes: the order, its first history row, and its events (the status change,
        and the fulfilment request when it is accepted)."""
        change = StatusChange(None, order.status, transition, order.status_reason_code, "", "channel",
                              order.channel_id, order.created_at)
        key = str(order.order_id)
        events = [self.outbox.row(ORDERS_TOPIC, convert.status_changed_event(order, change),
                                  aggregate_type="order", aggregate_id=key, trace_context=trace_context)]
        if transition is Transition.ACCEPT:
            events.append(self.outbox.row(
                ORDERS_TOPIC, convert.fulfilment_requested_event(order, operations_for(order.order_id, product)),
                aggregate_type="order", aggregate_id=key, trace_context=trace_context))
        return repository.NewOrder(
            order=order, change=change, request_hash=fingerprint, risk_outcome=decision.outcome.value,
            first_response=convert.order_to_pb(order).SerializeToString(),
            segment_carrier=carrier_of(order.account, self.catalog.snapshot.segments, None), events=events,
        )

    async def replay(self, conn: asyncpg.Connection, channel_id: str, channel_order_id: str,
                     fingerprint: bytes) -> orders_pb2.Order | None:
        """The response stored for an earlier identical request, None if there was none; an earlier request
        with another body under the same id is a conflict."""
        stored = await repository.first_response(conn, channel_id, channel_order_id)
        if stored is None:
            return None
        request_hash, first_response = stored
        if request_hash != fingerprint:
            raise IdempotencyConflict(
                "this channel_order_id was already used with a different request", channel_order_id=channel_order_id,
            )
        return orders_pb2.Order.FromString(first_response)

    # --- reads -------------------------------------------------------------------------------------

    async def get_order(self, order_id: str, channel_id: str, *, include_history: bool) -> Order:
        try:
            uid = identifiers.parse_uuid(order_id)
        except ValueError:
            raise OrderNotFound("no such order", order_id=order_id) from None
        async with self.pool.acquire() as conn:
            order = await repository.get_order(conn, uid)
            if order is None or (channel_id and order.channel_id != channel_id):
                raise OrderNotFound("no such order", order_id=order_id)
            if include_history:
                order.history = await repository.load_history(conn, uid)
        return order

    async def get_by_channel_order_id(self, channel_id: str, channel_order_id: str, *,
                                      include_history: bool) -> Order:
        async with self.pool.acquire() as conn:
            order = await repository.get_by_channel_order_id(conn, channel_id, channel_order_id)
            if order is None:
                raise OrderNotFound("no such order", channel_order_id=channel_order_id)
            if include_history:
                order.history = await repository.load_history(conn, order.order_id)
        return order

    # --- transitions -------------------------------------------------------------------------------

    async def transition_many(self, conn: asyncpg.Connection, moves: list[Move]) -> None:
        """Apply many named transitions (in order; several may concern one order) inside the caller's
        transaction, in three statements: lock the orders, check every move against the state machine, write
        the final statuses, the history rows and the events. One illegal move fails them all."""
        orders = await repository.lock_orders(conn, sorted({m.order_id for m in moves}))
        changes: list[tuple[UUID, StatusChange]] = []
        observed: list[tuple[UUID, StatusChange]] = []
        events = []
        for m in moves:
            order = orders.get(m.order_id)
            if order is None:
                raise OrderNotFound("no such order", order_id=str(m.order_id))
            steps = (catch_up(order.status, m.transition, current_reason=order.status_reason_code,
                              reason=m.reason_code) if m.repeatable else [m.transition])
            for step in steps:
                now = utcnow()
                # a fulfilment started on the way to its outcome keeps no reason of the outcome's
                reason_code, reason = (m.reason_code, m.reason) if step is m.transition else ("", "")
                change = StatusChange(order.status, next_status(order.status, step), step, reason_code, reason,
                                      m.actor_kind, m.actor_id, now)
                order = orders[m.order_id] = replace(order, status=change.to_status, status_reason_code=reason_code,
                                                     updated_at=now)
                changes.append((m.order_id, change))
                observed.append((m.order_id, replace(change, at=m.occurred_at) if m.occurred_at else change))
                events.append(self.outbox.row(ORDERS_TOPIC, convert.status_changed_event(order, change),
                                              aggregate_type="order", aggregate_id=str(m.order_id),
                                              trace_context=m.trace_context))
        if not changes:
            return  # every word was a repeat
        touched = {i for i, _ in changes}
        await repository.save_transitions(conn, [o for i, o in orders.items() if i in touched], changes, events)
        await self._settle_vouchers(conn, [(orders[i], c) for i, c in changes])
        metrics.observe((orders[i], c) for i, c in observed)

    async def transition(
        self,
        conn: asyncpg.Connection,
        order_id: UUID,
        transition: Transition,
        *,
        actor_kind: str,
        actor_id: str,
        reason_code: str = "",
        reason: str = "",
        occurred_at: datetime | None = None,
    ) -> Order:
        """Apply a named transition inside the caller's transaction: lock, check, update, history, event.
        `occurred_at`: when its cause happened, if not now (see `Move`)."""
        order = await repository.get_order(conn, order_id, for_update=True)
        if order is None:
            raise OrderNotFound("no such order", order_id=str(order_id))
        target: Status = next_status(order.status, transition)
        now = utcnow()
        change = StatusChange(order.status, target, transition, reason_code, reason, actor_kind, actor_id, now)
        order = replace(order, status=target, status_reason_code=reason_code, updated_at=now)
        event = self.outbox.row(ORDERS_TOPIC, convert.status_changed_event(order, change), aggregate_type="order",
                                aggregate_id=str(order.order_id))
        await repository.save_transition(conn, order, change, event)
        await self._settle_vouchers(conn, [(order, change)])
        metrics.observe([(order, replace(change, at=occurred_at) if occurred_at else change)])
        return order

    async def credited_per_boss(self, conn: asyncpg.Connection, order_id: UUID, reason: str) -> None:
        """Reconciliation found that BOSS credited the order: a failed order is credited after all, an order
        whose outcome was unknown is confirmed credited; one already SUCCEEDED stays so. Anything else (a
        refunded order: credited and refunded) is an illegal move and raises, for a person to see."""
        order = await repository.get_order(conn, order_id, for_update=True)
        if order is None:
            raise OrderNotFound("no such order", order_id=str(order_id))
        if order.status is Status.SUCCEEDED:
            return
        if order.status in (Status.PENDING, Status.PROCESSING):  # its outcome was lost on the way: it is this one
            await self.transition_many(conn, [Move(order_id, Transition.SUCCEED, "service", "reconciliation",
                                                   "RECONCILED", reason, repeatable=True)])
            return
        transition = (Transition.CONFIRM_CREDITED if order.status is Status.UNDER_REVIEW
                      else Transition.RECONCILE_CREDITED)
        await self.transition(conn, order_id, transition, actor_kind="service", actor_id="reconciliation",
                              reason_code="RECONCILED", reason=reason)

    # --- the review desk and the refunds it leads to ---------------------------------------------------

    async def apply_review_decision(self, order_id: UUID, decision: str, decision_id: str, actor_id: str,
                                    reason: str) -> Order:
        """A person's decision on an order UNDER_REVIEW, once per decision id. A held order (never sent to
        BOSS) is approved or rejected; one whose outcome at BOSS was in doubt is confirmed credited or not."""
        try:
            transition = Transition(decision)
        except ValueError:
            transition = None
        if transition not in _REVIEW_DECISIONS:
            raise ReviewActionNotApplicable(f"{decision!r} is not a review decision")
        with metrics.deferred() as count:
            order, repeated = await self._decide(order_id, transition, decision, decision_id, actor_id, reason)
        if repeated:
            return order
        count()  # committed
        self.outbox.wake()
        log.info("review decision applied", order_id=str(order_id), decision=decision, staff=actor_id)
        return order

    async def _decide(self, order_id: UUID, transition: Transition, decision: str, decision_id: str, actor_id: str,
                      reason: str) -> tuple[Order, bool]:
        """The decision in one transaction: (the order, whether this decision id had been applied before)."""
        async with self.pool.acquire() as conn, conn.transaction():
            done = await repository.review_decision(conn, decision_id)
            if done is not None:
                if (done["order_id"], done["decision"]) != (order_id, decision):
                    raise IdempotencyConflict("this decision id was used for another decision")
                order = await repository.get_order(conn, order_id)
                assert order is not None
                return order, True
            order = await repository.get_order(conn, order_id, for_update=True)
            if order is None:
                raise OrderNotFound("no such order", order_id=str(order_id))
            if order.status is not Status.UNDER_REVIEW:
                raise ReviewActionNotApplicable(f"the order is {order.status.value}, not under review",
                                                status=order.status.value)
            held = await repository.entered_review_by(conn, order_id) == Transition.HOLD_FOR_REVIEW.value
            if held != (transition in _HELD_DECISIONS):
                fits = "approve or reject_held" if held else "confirm_credited or confirm_not_credited"
                raise ReviewActionNotApplicable(
                    f"this order {'was held before fulfilment' if held else 'went to BOSS'}: {fits}")
            order = await self.transition(conn, order_id, transition, actor_kind="staff", actor_id=actor_id,
                                          reason_code=_REVIEW_REASON_CODES.get(transition, ""), reason=reason)
            if transition is Transition.APPROVE:
                product, _ = self.catalog.snapshot.products[order.sku]
                request = convert.fulfilment_requested_event(order, operations_for(order.order_id, product))
                await self.outbox.add(conn, ORDERS_TOPIC, request, aggregate_type="order",
                                      aggregate_id=str(order_id))
            await repository.record_review_decision(conn, decision_id, order_id, decision, actor_id)
        return order, False

    async def flag_stuck(self, older_than: datetime, limit: int = 500) -> list[UUID]:
        """Orders with no progress since `older_than` go to the review desk (UNDER_REVIEW, STUCK)."""
        flagged = []
        async with self.pool.acquire() as conn:
            for order_id in await repository.stuck_orders(conn, older_than, limit):
                async with conn.transaction():
                    order = await repository.get_order(conn, order_id, for_update=True)
                    if order is None or order.status not in (Status.PENDING, Status.PROCESSING) \
                            or order.updated_at >= older_than:
                        continue  # it moved on meanwhile
                    await self.transition(conn, order_id, Transition.FLAG_STUCK, actor_kind="service",
                                          actor_id="stuck-sweeper", reason_code="STUCK_" + order.status.value,
                                          reason=f"no progress in {order.status.value} since "
                                                 f"{order.updated_at.isoformat()}")
                flagged.append(order_id)
        if flagged:
            self.outbox.wake()
            log.warning("orders stuck: flagged for review", count=len(flagged))
        return flagged

    async def broker_unreachable(self, for_longer_than: timedelta) -> bool:
        """Whether an event of ours has waited longer than this to be published (the broker cannot be reached)."""
        async with self.pool.acquire() as conn:
            return await repository.outbox_stalled(conn, utcnow() - for_longer_than)

    async def redrive_stalled(self, *, after: timedelta, cap: timedelta, give_up: timedelta,
                              limit: int = 500) -> list[UUID]:
        """The watchdog's round: orders whose next step is another service's and that made no progress for
        `after` (then twice as long after each re-drive, up to `cap`) have that step asked for again
        (`domain.redrive`). Not while our own events cannot be published: they would only queue up behind."""
        if await self.broker_unreachable(after):
            return []
        asked: list[tuple[UUID, Ask]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            due = await repository.lock_redrive_due(conn, after=after.total_seconds(), cap=cap.total_seconds(),
                                                    since=utcnow() - give_up, limit=limit)
            events = []
            for order in due:
                ask = ask_again(order.status, order.status_reason_code, paid_in_money=(
                    order.payment.method is not PaymentMethod.VOUCHER and order.payment.paid_fen > 0))
                event = self._ask_event(order, ask) if ask is not None else None
                if ask is None or event is None:
                    continue
                events.append(self.outbox.row(ORDERS_TOPIC, event, aggregate_type="order",
                                              aggregate_id=str(order.order_id)))
                asked.append((order.order_id, ask))
            if asked:
                await repository.record_redrives(conn, [i for i, _ in asked], events)
        if asked:
            self.outbox.wake()
            for _, ask in asked:
                metrics.REDRIVES.labels(ask.value).inc()
            log.warning("orders without progress: their next step asked for again", count=len(asked),
                        fulfilment=sum(a is Ask.FULFILMENT for _, a in asked),
                        refund=sum(a is Ask.REFUND for _, a in asked))
        return [i for i, _ in asked]

    def _ask_event(self, order: Order, ask: Ask) -> Message | None:
        if ask is Ask.REFUND:
            return order_events_pb2.RefundRequested(order=convert.order_to_pb(order),
                                                    confirmed_at=to_timestamp(order.updated_at))
        priced = self.catalog.snapshot.products.get(order.sku)
        if priced is None:  # a SKU gone from the catalog: the BOSS adapter has its request already, if any
            log.error("cannot ask again for the fulfilment of an order whose SKU is unknown",
                      order_id=str(order.order_id), sku=order.sku)
            return None
        return convert.fulfilment_requested_event(order, operations_for(order.order_id, priced[0]))

    async def refund_settled(self, conn: asyncpg.Connection, order_id: UUID, reason: str) -> None:
        """The money is back: REFUNDED, keeping the reason the order failed (what the channel wants to know)."""
        order = await repository.get_order(conn, order_id)
        if order is None:
            raise OrderNotFound("no such order", order_id=str(order_id))
        # a settlement announced again (the order asked for its refund again, its first word lost) is a repeat
        await self.transition_many(conn, [Move(order_id, Transition.REFUND, "service", "refunds",
                                               order.status_reason_code, reason, repeatable=True)])

    @staticmethod
    async def _settle_vouchers(conn: asyncpg.Connection, changes: list[tuple[Order, StatusChange]]) -> None:
        """Settle the cards of voucher orders that reached an outcome, in the transition's transaction:
        credited → redeemed; failed or rejected → the card goes back to active (voucher orders are never
        refunded in money)."""
        for order, change in changes:
            if not order.voucher_card_number:
                continue
            if change.to_status is Status.SUCCEEDED:
                await vrepo.record_redemption_step(conn, order.voucher_card_number, "redeeming", "redeemed",
                                                   CardTransition.COMPLETE_REDEMPTION.value, order.order_id,
                                                   change.actor_kind, change.actor_id)
            elif change.to_status in (Status.FAILED, Status.REJECTED):
                await vrepo.record_redemption_step(conn, order.voucher_card_number, "redeeming", "active",
                                                   CardTransition.RETURN_CARD.value, order.order_id,
                                                   change.actor_kind, change.actor_id, change.reason_code)

    # --- history (F12) -----------------------------------------------------------------------------

    async def list_orders(self, f: repository.OrderFilter, limit: int, cursor: str,
                          include_history: bool) -> tuple[list[Order], str]:
        """A page of orders, newest first, and the cursor of the next page ("" on the last)."""
        limit = max(1, min(limit or 50, 200))
        after = decode_cursor(cursor) if cursor else None
        async with self.pool.acquire() as conn:
            page = await repository.list_orders(conn, f, limit + 1, after)
            more, page = len(page) > limit, page[:limit]
            if include_history and page:
                histories = await repository.load_histories(conn, [o.order_id for o in page])
                for o in page:
                    o.history = histories.get(o.order_id, [])
        return page, encode_cursor(page[-1].created_at, page[-1].order_id) if more else ""

    # --- statements (对账单) --------------------------------------------------------------------------

    async def statement(self, channel_id: str, date_text: str) -> AsyncIterator[orders_pb2.StatementChunk]:
        """The channel's statement of one Beijing day, in chunks; the last chunk carries the totals. Read in one
        repeatable-read snapshot, so the totals are the sums of the lines sent."""
        if not channel_id:
            raise InvalidRequest("channel_id is required")
        day = statement.statement_day(date_text, utcnow())
        totals = statement.Totals()
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            chunk = orders_pb2.StatementChunk()
            async for r in repository.statement_rows(conn, channel_id, day.start, day.end):
                status = Status(r["to_status"])
                line = chunk.lines.add(
                    order_id=str(r["order_id"]), channel_order_id=r["channel_order_id"],
                    account=convert.account_to_pb(Account(AccountType(r["account_type"]), r["account_id"])),
                    sku=r["sku"], payment_method=convert.METHOD_TO_PB[PaymentMethod(r["payment_method"])],
                    paid_fen=r["paid_fen"], status=convert.STATUS_TO_PB[status],
                    status_reason_code=r["reason_code"], refund_fen=totals.add(status, r["paid_fen"]))
                line.created_at.CopyFrom(to_timestamp(r["created_at"]))
                line.final_at.CopyFrom(to_timestamp(r["final_at"]))
                if len(chunk.lines) >= 500:
                    yield chunk
                    chunk = orders_pb2.StatementChunk()
        summary = chunk.summary
        summary.channel_id, summary.date, summary.complete = channel_id, day.day.isoformat(), day.complete
        summary.day_start.CopyFrom(to_timestamp(day.start))
        summary.day_end.CopyFrom(to_timestamp(day.end))
        for s, t in [*totals.by_status.items(), (None, totals.total)]:
            summary.totals.add(status=convert.STATUS_TO_PB[s] if s else orders_pb2.ORDER_STATUS_UNSPECIFIED,
                               count=t.count, paid_fen=t.paid_fen, refund_fen=t.refund_fen)
        yield chunk

    # --- channel prices ----------------------------------------------------------------------------

    async def channel_prices(self, channel_id: str) -> list[tuple[str, int]]:
        async with self.pool.acquire() as conn:
            return await repository.channel_prices(conn, channel_id)

    async def set_channel_prices(self, channel_id: str, prices: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """Replace a channel's price list (applied by every replica within the catalog's refresh)."""
        products = self.catalog.snapshot.products
        for sku, price in prices:
            if sku not in products:
                raise SkuUnknown(f"no product has the SKU {sku!r}", sku=sku)
            if price <= 0:
                raise InvalidRequest("a price is a positive number of fen", sku=sku)
        if len({sku for sku, _ in prices}) != len(prices):
            raise InvalidRequest("a SKU is listed twice")
        async with self.pool.acquire() as conn, conn.transaction():
            await repository.replace_channel_prices(conn, channel_id, prices)
            stored = await repository.channel_prices(conn, channel_id)
        await self.catalog.reload()
        log.info("channel prices replaced", channel=channel_id, skus=len(stored))
        return stored

    # --- dev seeding -------------------------------------------------------------------------------

    async def seed_demo_channel(self, channel_id: str) -> None:
        async with self.pool.acquire() as conn:
            await repository.seed_list_prices(conn, channel_id)
