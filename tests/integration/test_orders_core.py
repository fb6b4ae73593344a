"""The order core's use cases on real PostgreSQL: idempotent creation, races, transitions and history."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from orders.catalog import Catalog
from orders.domain.accounts import Account, AccountType
from orders.domain.errors import (
    AccountNotServed,
    IdempotencyConflict,
    IllegalTransition,
    PaymentAlreadyUsed,
    PriceMismatch,
    SkuNotAvailable,
    SkuUnknown,
)
from orders.domain.models import Payment, PaymentMethod, RechargeRequest, RiskDecision, RiskOutcome
from orders.domain.state import Transition
from orders.service import OrdersService
from topup.events.v1 import envelope_pb2
from topup.events.v1 import orders_pb2 as order_events
from topup.orders.v1 import orders_pb2
from topup_platform.db import create_pool
from topup_platform.migrations import migrate
from topup_platform.outbox import Outbox
from topup_platform.runtime import service_migrations

ALLOW = RiskDecision("d-1", RiskOutcome.ALLOW)


def request(channel_order_id: str = "A1", **changes: object) -> RechargeRequest:
    base = RechargeRequest(
        channel_id="shop", channel_order_id=channel_order_id, account=Account(AccountType.MOBILE, "18612345678"),
        sku="CREDIT_50", payment=Payment(PaymentMethod.ALIPAY, f"PAY-{channel_order_id}", 4900), notify_url="",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def service(infra, schema: str) -> AsyncIterator[OrdersService]:  # type: ignore[no-untyped-def]
    conn = await asyncpg.connect(infra.database_url)
    try:
        await migrate(conn, schema, service_migrations("orders"))
        await conn.execute(f"SET search_path TO {schema}")
        # A channel selling CREDIT_50 at a discount (49 yuan), and no data packs.
        await conn.execute("INSERT INTO channel_prices (channel_id, sku, price_fen) VALUES ('shop', 'CREDIT_50', 4900)")
        await conn.execute("INSERT INTO ported_numbers (number, carrier, ported_at) VALUES "
                           "('18699999999', 'china_mobile', now()), ('13800138000', 'unicom', now())")
        await conn.execute("INSERT INTO channel_prices (channel_id, sku, price_fen) VALUES ('shop', 'CREDIT_10', 1000)")
    finally:
        await conn.close()
    pool = await create_pool(infra.database_url, schema=schema, application_name="tests", max_size=60)
    catalog = Catalog(pool)
    await catalog.reload()
    yield OrdersService(pool, Outbox("orders"), catalog)
    await pool.close()


async def _outbox_events(service: OrdersService) -> list[envelope_pb2.EventEnvelope]:
    async with service.pool.acquire() as conn:
        rows = await conn.fetch("SELECT envelope FROM outbox ORDER BY id")
    return [envelope_pb2.EventEnvelope.FromString(r["envelope"]) for r in rows]


async def test_create_writes_order_history_and_events_in_one_go(service: OrdersService) -> None:
    order, replayed = await service.create_recharge(request(), ALLOW)
    assert not replayed
    assert order.status == orders_pb2.ORDER_STATUS_PENDING
    assert (order.face_value_fen, order.price_fen, order.payment.paid_fen) == (5000, 4900, 4900)
    events = await _outbox_events(service)
    assert [e.event_type for e in events] == [
        "topup.events.v1.OrderStatusChanged", "topup.events.v1.FulfilmentRequested"
    ]
    requested = order_events.FulfilmentRequested()
    events[1].payload.Unpack(requested)
    assert [(op.kind, op.amount_fen) for op in requested.operations] == [
        (order_events.FulfilmentOperation.KIND_CREDIT, 5000)  # BOSS credits the face value, not the discounted price
    ]
    stored = await service.get_order(order.order_id, "shop", include_history=True)
    assert [(c.transition.value, c.to_status.value, c.actor_id) for c in stored.history] == [
        ("accept", "PENDING", "shop")
    ]


async def test_same_request_replays_the_stored_response(service: OrdersService) -> None:
    first, _ = await service.create_recharge(request(), ALLOW)
    async with service.pool.acquire() as conn:
        await service.transition(conn, uuid.UUID(first.order_id), Transition.START_FULFILMENT,
                                 actor_kind="service", actor_id="billing-adapter")
    again, replayed = await service.create_recharge(request(), ALLOW)
    assert replayed
    assert again == first  # the first response, byte for byte, although the order moved on since
    async with service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 1


async def test_a_different_body_under_the_same_id_is_a_conflict(service: OrdersService) -> None:
    await service.create_recharge(request(), ALLOW)
    for changed in (request(sku="CREDIT_10", payment=Payment(PaymentMethod.ALIPAY, "PAY-A1", 1000)),
                    request(account=Account(AccountType.MOBILE, "18612345679")),
                    request(notify_url="https://shop.example/cb")):
        with pytest.raises(IdempotencyConflict):
            await service.create_recharge(changed, ALLOW)
    async with service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 1


async def test_a_retry_is_answered_even_after_the_price_changed(service: OrdersService) -> None:
    first, _ = await service.create_recharge(request(), ALLOW)
    async with service.pool.acquire() as conn:
        await conn.execute("UPDATE channel_prices SET price_fen = 4800 WHERE sku = 'CREDIT_50'")
    await service.catalog.reload()
    again, replayed = await service.create_recharge(request(), ALLOW)
    assert replayed and again.order_id == first.order_id
    with pytest.raises(PriceMismatch):
        await service.create_recharge(request("A2"), ALLOW)


async def test_concurrent_identical_requests_create_one_order(service: OrdersService) -> None:
    results = await asyncio.gather(*(service.create_recharge(request("RACE"), ALLOW) for _ in range(20)))
    assert len({order.order_id for order, _ in results}) == 1
    assert sum(1 for _, replayed in results if not replayed) == 1
    async with service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 1
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 2  # one order's events, once


async def test_concurrent_conflicting_requests_one_wins_the_rest_conflict(service: OrdersService) -> None:
    variants = [request("RACE2", payment=Payment(PaymentMethod.ALIPAY, f"PAY-{i}", 4900)) for i in range(10)]
    results = await asyncio.gather(*(service.create_recharge(v, ALLOW) for v in variants), return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, tuple)) == 1
    assert all(isinstance(r, IdempotencyConflict) for r in results if not isinstance(r, tuple))


async def test_one_payment_backs_one_order(service: OrdersService) -> None:
    first, _ = await service.create_recharge(request("P1"), ALLOW)
    reuse = request("P2", payment=Payment(PaymentMethod.ALIPAY, "PAY-P1", 4900),
                    account=Account(AccountType.MOBILE, "18612345679"))
    with pytest.raises(PaymentAlreadyUsed) as refused:
        await service.create_recharge(reuse, ALLOW)
    assert refused.value.metadata["order_id"] == first.order_id
    # a held or rejected order is backed by its payment too (a rejected one is refunded)
    with pytest.raises(PaymentAlreadyUsed):
        await service.create_recharge(reuse, RiskDecision("d-9", RiskOutcome.DENY, "RISK_DENIED"))
    # the retry of the first is answered before the payment check, even after the price changed
    async with service.pool.acquire() as conn:
        await conn.execute("UPDATE channel_prices SET price_fen = 4800 WHERE sku = 'CREDIT_50'")
    await service.catalog.reload()
    again, replayed = await service.create_recharge(request("P1"), ALLOW)
    assert replayed and again == first
    # the same transaction id at another provider is another payment
    other, _ = await service.create_recharge(
        request("P3", payment=Payment(PaymentMethod.WECHAT, "PAY-P1", 4800)), ALLOW)
    assert other.payment.transaction_id == "PAY-P1"
    # through another channel it is the same payment: refused, without naming the other channel's order
    async with service.pool.acquire() as conn:
        await conn.execute("INSERT INTO channel_prices (channel_id, sku, price_fen) VALUES ('mall', 'CREDIT_50', 4800)")
    await service.catalog.reload()
    with pytest.raises(PaymentAlreadyUsed) as elsewhere:
        await service.create_recharge(request("P1", channel_id="mall", payment=Payment(PaymentMethod.ALIPAY, "PAY-P1",
                                                                                        4800)), ALLOW)
    assert "order_id" not in elsewhere.value.metadata
    async with service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 2
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 4


async def test_racing_uses_of_one_payment_make_one_order(service: OrdersService) -> None:
    reuses = [request(f"RACE3-{i}", payment=Payment(PaymentMethod.ALIPAY, "PAY-RACE3", 4900)) for i in range(20)]
    results = await asyncio.gather(*(service.create_recharge(r, ALLOW) for r in reuses), return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, tuple)) == 1
    assert all(isinstance(r, PaymentAlreadyUsed) for r in results if not isinstance(r, tuple))
    # and within one batch (the gateway coalesces concurrent requests), with a retry of the winner in it
    batch = [(request(f"BATCH-{i}", payment=Payment(PaymentMethod.ALIPAY, "PAY-BATCH", 4900)), ALLOW, {})
             for i in range(5)]
    answers = await service.create_recharges([*batch, batch[0]])
    assert [type(a).__name__ for a in answers] == ["tuple", *["PaymentAlreadyUsed"] * 4, "tuple"]
    assert answers[0][0] == answers[5][0]  # type: ignore[index]
    assert {answers[0][1], answers[5][1]} == {False, True}  # type: ignore[index]  # one made it, one replays it
    async with service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 2
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 4


async def test_the_migration_keeps_orders_that_shared_a_payment_before_the_rule(infra, schema: str) -> None:  # type: ignore[no-untyped-def]
    before = [m for m in service_migrations("orders") if not (m.namespace == "orders" and m.version >= 5)]
    conn = await asyncpg.connect(infra.database_url)
    try:
        await migrate(conn, schema, before)
        await conn.execute(f"SET search_path TO {schema}")
        for i, (channel, method, txn) in enumerate([
                ("shop", "alipay", "DUP"), ("shop", "alipay", "DUP"), ("mall", "alipay", "DUP"),
                ("shop", "wechat", "DUP"), ("shop", "voucher", "1000000000000001"),
                ("shop", "voucher", "1000000000000001")]):
            await conn.execute(
                """INSERT INTO orders (order_id, channel_id, channel_order_id, request_hash, account_type, account_id,
                                       sku, face_value_fen, price_fen, payment_method, payment_transaction_id,
                                       paid_fen, status, risk_outcome, first_response, created_at, updated_at)
                   VALUES ($1, $6, $2, '', 'mobile', '18612345678', 'CREDIT_50', 5000, 5000, $3, $4, 5000,
                           'FAILED', 'ALLOW', '', now() + make_interval(secs => $5), now())""",
                uuid.uuid4(), f"OLD-{i}", method, txn, i, channel)
        await migrate(conn, schema, service_migrations("orders"))
        await conn.execute(f"SET search_path TO {schema}")
        parts = [r["payment_part"] for r in await conn.fetch("SELECT payment_part FROM orders ORDER BY created_at")]
        assert parts == [0, None, None, 0, None, None]  # the first use holds the payment; vouchers are cards
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"account": Account(AccountType.MOBILE, "13812345678")}, AccountNotServed),  # China Mobile segment
        ({"account": Account(AccountType.MOBILE, "18699999999")}, AccountNotServed),  # Unicom, ported away
        ({"sku": "CREDIT_999"}, SkuUnknown),
        ({"sku": "DATA_5GB_30D"}, SkuNotAvailable),  # exists, but this channel does not sell it
        ({"payment": Payment(PaymentMethod.ALIPAY, "P", 5000)}, PriceMismatch),  # face value, not the price
    ],
)
async def test_bad_requests_change_nothing(service: OrdersService, changes: dict[str, object],
                                           error: type[Exception]) -> None:
    with pytest.raises(error):
        await service.create_recharge(request("BAD", **changes), ALLOW)
    async with service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_ported_in_number_is_served(service: OrdersService) -> None:
    order, _ = await service.create_recharge(
        request("PORTED", account=Account(AccountType.MOBILE, "13800138000")), ALLOW
    )
    assert order.account.id == "13800138000"


async def test_risk_review_holds_and_deny_rejects_without_fulfilment(service: OrdersService) -> None:
    held, _ = await service.create_recharge(request("R1"), RiskDecision("d-2", RiskOutcome.REVIEW))
    rejected, _ = await service.create_recharge(request("R2"), RiskDecision("d-3", RiskOutcome.DENY, "RISK_DENIED"))
    assert held.status == orders_pb2.ORDER_STATUS_UNDER_REVIEW
    assert (rejected.status, rejected.status_reason_code) == (orders_pb2.ORDER_STATUS_REJECTED, "RISK_DENIED")
    types = [e.event_type for e in await _outbox_events(service)]
    assert "topup.events.v1.FulfilmentRequested" not in types


async def test_transitions_are_recorded_and_illegal_ones_raise(service: OrdersService) -> None:
    order, _ = await service.create_recharge(request("T1"), ALLOW)
    order_id = uuid.UUID(order.order_id)
    async with service.pool.acquire() as conn, conn.transaction():
        await service.transition(conn, order_id, Transition.START_FULFILMENT, actor_kind="service",
                                 actor_id="billing-adapter")
        await service.transition(conn, order_id, Transition.SUCCEED, actor_kind="service", actor_id="billing-adapter")
    async with service.pool.acquire() as conn:
        with pytest.raises(IllegalTransition):
            async with conn.transaction():
                await service.transition(conn, order_id, Transition.FAIL, actor_kind="service", actor_id="x")
    stored = await service.get_order(order.order_id, "", include_history=True)
    assert stored.status.value == "SUCCEEDED"
    assert [c.transition.value for c in stored.history] == ["accept", "start_fulfilment", "succeed"]
    changes = [e for e in await _outbox_events(service) if e.event_type.endswith("OrderStatusChanged")]
    assert len(changes) == 3


async def test_many_transitions_in_one_go_keep_their_order(service: OrdersService) -> None:
    from orders.service import Move

    a, _ = await service.create_recharge(request("M1"), ALLOW)
    b, _ = await service.create_recharge(request("M2"), ALLOW)
    ida, idb = uuid.UUID(a.order_id), uuid.UUID(b.order_id)
    async with service.pool.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM outbox")
        async with conn.transaction():
            await service.transition_many(conn, [
                Move(ida, Transition.START_FULFILMENT, "service", "billing-adapter"),
                Move(idb, Transition.START_FULFILMENT, "service", "billing-adapter"),
                Move(ida, Transition.SUCCEED, "service", "billing-adapter", reason="credited"),
                Move(idb, Transition.FAIL, "service", "billing-adapter", reason_code="BOSS_SUBSCRIBER_SUSPENDED"),
            ])
        assert await conn.fetchval("SELECT count(*) FROM outbox") == before + 4
    first = await service.get_order(a.order_id, "", include_history=True)
    second = await service.get_order(b.order_id, "", include_history=True)
    assert [c.transition.value for c in first.history] == ["accept", "start_fulfilment", "succeed"]
    assert (second.status.value, second.status_reason_code) == ("FAILED", "BOSS_SUBSCRIBER_SUSPENDED")
    assert [c.from_status.value if c.from_status else None for c in second.history] == [None, "PENDING", "PROCESSING"]


async def test_one_illegal_move_fails_the_whole_set(service: OrdersService) -> None:
    from orders.service import Move

    a, _ = await service.create_recharge(request("M3"), ALLOW)
    ida = uuid.UUID(a.order_id)
    async with service.pool.acquire() as conn:
        with pytest.raises(IllegalTransition):
            async with conn.transaction():
                await service.transition_many(conn, [
                    Move(ida, Transition.START_FULFILMENT, "service", "billing-adapter"),
                    Move(ida, Transition.START_FULFILMENT, "service", "billing-adapter"),  # twice: illegal
                ])
    assert (await service.get_order(a.order_id, "", include_history=False)).status.value == "PENDING"


# --- the review desk's side of the order core -----------------------------------------------------------


async def test_the_stuck_sweeper_flags_orders_after_30_minutes_without_progress(service: OrdersService) -> None:
    from orders.sweeper import StuckSweeper

    waiting, _ = await service.create_recharge(request("S1"), ALLOW)
    working, _ = await service.create_recharge(request("S2"), ALLOW)
    done, _ = await service.create_recharge(request("S3"), ALLOW)
    async with service.pool.acquire() as conn, conn.transaction():
        await service.transition(conn, uuid.UUID(working.order_id), Transition.START_FULFILMENT,
                                 actor_kind="service", actor_id="billing-adapter")
        for t in (Transition.START_FULFILMENT, Transition.SUCCEED):
            await service.transition(conn, uuid.UUID(done.order_id), t, actor_kind="service", actor_id="b")
    now = datetime.now(UTC)

    def sweeper(minutes: float) -> StuckSweeper:
        return StuckSweeper(service, timedelta(minutes=30), clock=lambda: now + timedelta(minutes=minutes))

    assert await sweeper(29).sweep() == []  # not yet
    flagged = await sweeper(31).sweep()
    assert sorted(map(str, flagged)) == sorted([waiting.order_id, working.order_id])
    for order_id, reason in ((waiting.order_id, "STUCK_PENDING"), (working.order_id, "STUCK_PROCESSING")):
        stored = await service.get_order(order_id, "", include_history=True)
        last = stored.history[-1]
        assert (stored.status.value, stored.status_reason_code) == ("UNDER_REVIEW", reason)
        assert (last.transition, last.actor_id) == (Transition.FLAG_STUCK, "stuck-sweeper")
    assert (await service.get_order(done.order_id, "", include_history=False)).status.value == "SUCCEEDED"
    assert await sweeper(60).sweep() == []  # flagged once: under review now, not stuck

    # BOSS was only slow: its late word still moves the flagged order on
    async with service.pool.acquire() as conn, conn.transaction():
        await service.transition(conn, uuid.UUID(working.order_id), Transition.SUCCEED, actor_kind="service",
                                 actor_id="billing-adapter")
    assert (await service.get_order(working.order_id, "", include_history=False)).status.value == "SUCCEEDED"


async def test_review_decisions_fit_how_the_order_got_there_and_apply_once(service: OrdersService) -> None:
    from orders.domain.errors import ReviewActionNotApplicable

    held, _ = await service.create_recharge(request("H1"), RiskDecision("d-4", RiskOutcome.REVIEW))
    unsure, _ = await service.create_recharge(request("H2"), ALLOW)
    async with service.pool.acquire() as conn, conn.transaction():
        await service.transition(conn, uuid.UUID(unsure.order_id), Transition.START_FULFILMENT,
                                 actor_kind="service", actor_id="b")
        await service.transition(conn, uuid.UUID(unsure.order_id), Transition.OUTCOME_UNKNOWN,
                                 actor_kind="service", actor_id="b", reason_code="BOSS_NO_ANSWER")
    held_id, unsure_id = uuid.UUID(held.order_id), uuid.UUID(unsure.order_id)

    for order_id, wrong in ((held_id, "confirm_credited"), (unsure_id, "approve"), (unsure_id, "refund")):
        with pytest.raises(ReviewActionNotApplicable):
            await service.apply_review_decision(order_id, wrong, f"case-{wrong}", "alice", "no")

    approved = await service.apply_review_decision(held_id, "approve", "case-1", "alice", "known customer")
    again = await service.apply_review_decision(held_id, "approve", "case-1", "alice", "known customer")
    assert approved.status.value == again.status.value == "PENDING"
    with pytest.raises(IdempotencyConflict):
        await service.apply_review_decision(held_id, "reject_held", "case-1", "bob", "other decision, same id")
    with pytest.raises(ReviewActionNotApplicable):  # no longer under review
        await service.apply_review_decision(held_id, "reject_held", "case-9", "bob", "too late")

    failed = await service.apply_review_decision(unsure_id, "confirm_not_credited", "case-2", "bob", "not at BOSS")
    assert (failed.status.value, failed.status_reason_code) == ("FAILED", "REVIEW_CONFIRMED_NOT_CREDITED")
    history = (await service.get_order(unsure.order_id, "", include_history=True)).history
    assert (history[-1].actor_kind, history[-1].actor_id, history[-1].reason) == ("staff", "bob", "not at BOSS")
    requests = [e for e in await _outbox_events(service) if e.event_type.endswith("FulfilmentRequested")
                and e.aggregate_id == held.order_id]
    assert len(requests) == 1  # approved: now it goes to BOSS (it never did before), once
