"""The refund service's ledger per payment, on real PostgreSQL: what is refunded against one provider payment
never sums past what was paid, whatever the concurrency; a refund that would pass it is not made (a case for a
person instead); a cancelled refund gives its amount back; and the migration takes refunds made before the
ledger existed, duplicates included."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from refunds.calendar_store import CalendarStore
from refunds.lifecycle import RefundBook
from tests.integration.conftest import migrated_pool
from topup_platform.db import create_pool
from topup_platform.migrations import migrate
from topup_platform.outbox import Outbox
from topup_platform.runtime import service_migrations

CONFIRMED = datetime(2026, 10, 9, 4, 0, tzinfo=UTC)


@pytest.fixture
async def pool(infra, schema: str) -> AsyncIterator[asyncpg.Pool]:  # type: ignore[no-untyped-def]
    p = await migrated_pool(infra.database_url, schema, service_migrations("refunds"), 30)
    yield p
    await p.close()


async def _book(pool: asyncpg.Pool) -> RefundBook:
    calendar = CalendarStore(pool)
    await calendar.reload()
    return RefundBook(Outbox("refunds"), calendar)


async def _request(pool: asyncpg.Pool, book: RefundBook, order_id: uuid.UUID, transaction_id: str, amount: int,
                   *, channel_id: str = "shop", paid: int | None = None) -> asyncpg.Record | None:
    async with pool.acquire() as conn, conn.transaction():
        return await book.request(conn, order_id=order_id, channel_id=channel_id, payment_method="alipay",
                                  transaction_id=transaction_id, amount_fen=amount, reason_code="BOSS_X",
                                  confirmed_at=CONFIRMED, payment_amount_fen=paid)


async def _figures(pool: asyncpg.Pool, transaction_id: str) -> tuple[int, int, int]:
    """(sum of the payment's refunds not cancelled, the ledger's refunded_fen, refused refunds' cases)."""
    async with pool.acquire() as conn:
        refunded = await conn.fetchval(
            """SELECT coalesce(sum(amount_fen), 0) FROM refunds
               WHERE payment_transaction_id = $1 AND status <> 'CANCELLED'""", transaction_id)
        ledger = await conn.fetchval("SELECT refunded_fen FROM payments WHERE transaction_id = $1", transaction_id)
        cases = await conn.fetchval("SELECT count(*) FROM review_cases WHERE kind = 'REFUND_REFUSED'")
    return refunded, ledger, cases


async def test_racing_refunds_of_one_payment_never_sum_past_what_was_paid(pool: asyncpg.Pool) -> None:
    book = await _book(pool)
    orders = [uuid.uuid4() for _ in range(12)]
    # twelve orders claim one payment of 5,000 fen (made before one payment backed one order, or by channels
    # naming the same provider transaction); each asks 2,000 back, all at once, each in its own transaction
    results = await asyncio.gather(*(_request(pool, book, o, "PAY-SHARED", 2000, paid=5000) for o in orders))
    assert sum(r is not None for r in results) == 2
    assert await _figures(pool, "PAY-SHARED") == (4000, 4000, 10)
    # the refused ones are refused again, not refunded, when their event comes back; and no second case
    for o in orders:
        assert await _request(pool, book, o, "PAY-SHARED", 2000, paid=5000) is None
    assert await _figures(pool, "PAY-SHARED") == (4000, 4000, 10)


async def test_whole_refunds_of_one_payment_under_two_channels_pay_once(pool: asyncpg.Pool) -> None:
    book = await _book(pool)
    first, second = uuid.uuid4(), uuid.uuid4()
    results = await asyncio.gather(_request(pool, book, first, "PAY-TWICE", 5000, channel_id="shop"),
                                   _request(pool, book, second, "PAY-TWICE", 5000, channel_id="mall"))
    assert sum(r is not None for r in results) == 1
    assert await _figures(pool, "PAY-TWICE") == (5000, 5000, 1)
    async with pool.acquire() as conn:
        case = await conn.fetchrow("SELECT * FROM review_cases WHERE kind = 'REFUND_REFUSED'")
        trail = await conn.fetchval("SELECT count(*) FROM review_actions WHERE case_id = $1", case["case_id"])
    assert (case["path"], case["amount_fen"], case["reason_code"], trail) == ("note", 5000, "REFUND_EXCEEDS_PAYMENT",
                                                                              1)
    assert case["order_id"] in (first, second) and case["refund_id"] is None


async def test_a_cancelled_refund_gives_its_amount_back(pool: asyncpg.Pool) -> None:
    book = await _book(pool)
    credited, failed = uuid.uuid4(), uuid.uuid4()
    assert await _request(pool, book, credited, "PAY-BACK", 5000) is not None
    assert await _request(pool, book, failed, "PAY-BACK", 5000) is None  # the payment is all promised back
    async with pool.acquire() as conn, conn.transaction():  # BOSS credited the first order after all
        assert await book.cancel(conn, credited, "RECONCILED_CREDITED") is None
    assert await _figures(pool, "PAY-BACK") == (0, 0, 1)
    another = uuid.uuid4()
    assert await _request(pool, book, another, "PAY-BACK", 5000) is not None
    assert await _figures(pool, "PAY-BACK") == (5000, 5000, 1)


async def test_the_migration_takes_refunds_made_before_the_ledger(infra, schema: str) -> None:  # type: ignore[no-untyped-def]
    before_ledger = [m for m in service_migrations("refunds") if not (m.namespace == "refunds" and m.version >= 4)]
    conn = await asyncpg.connect(infra.database_url)
    try:
        await migrate(conn, schema, before_ledger)
        await conn.execute(f"SET search_path TO {schema}")
        # one payment of 5,000 fen refunded three times over: one settled, one sent (at the provider: it may pay),
        # one never sent; and an ordinary payment refunded once
        rows = [("PAY-DUP", "SETTLED", 0, "2026-10-01"), ("PAY-DUP", "SUBMITTED", 1, "2026-10-02"),
                ("PAY-DUP", "REQUESTED", 0, "2026-10-03"), ("PAY-ONE", "REQUESTED", 0, "2026-10-04")]
        for txn, status, attempts, at in rows:
            await conn.execute(
                """INSERT INTO refunds (refund_id, order_id, channel_id, payment_method, payment_transaction_id,
                                       amount_fen, status, attempts, deadline_at, created_at)
                   VALUES ($1, $2, 'shop', 'alipay', $3, 5000, $4, $5, now(), $6::date)""",
                uuid.uuid4(), uuid.uuid4(), txn, status, attempts, datetime.fromisoformat(at).date())
        applied = await migrate(conn, schema, service_migrations("refunds"))
        await conn.execute(f"SET search_path TO {schema}")
        assert [a for a in applied if a.startswith("refunds/")] == ["refunds/0004_payment_ledger.sql"]
        ledger = {r["transaction_id"]: (r["paid_fen"], r["refunded_fen"])
                  for r in await conn.fetch("SELECT * FROM payments")}
        statuses = [r["status"] for r in await conn.fetch(
            "SELECT status FROM refunds WHERE payment_transaction_id = 'PAY-DUP' ORDER BY created_at")]
        cases = await conn.fetch("SELECT * FROM review_cases WHERE kind = 'REFUND_REFUSED'")
        events = await conn.fetch("SELECT what FROM refund_events")
    finally:
        await conn.close()
    # the never-sent duplicate is cancelled; the one already sent cannot be: a person looks at the payment
    assert statuses == ["SETTLED", "SUBMITTED", "CANCELLED"]
    assert ledger == {"PAY-DUP": (5000, 10000), "PAY-ONE": (5000, 5000)}
    assert [(c["reason_code"], c["path"], c["amount_fen"]) for c in cases] == [
        ("REFUND_EXCEEDS_PAYMENT", "note", 5000), ("REFUND_EXCEEDS_PAYMENT", "note", 5000)]
    assert [e["what"] for e in events] == ["cancelled"]
    # from then on the payment takes no more refunds
    pool = await create_pool(infra.database_url, schema=schema, application_name="tests", max_size=4)
    try:
        assert await _request(pool, await _book(pool), uuid.uuid4(), "PAY-DUP", 1) is None
        assert await _request(pool, await _book(pool), uuid.uuid4(), "PAY-ONE", 1) is None
    finally:
        await pool.close()
