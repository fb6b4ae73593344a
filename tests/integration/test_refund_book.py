"""The refund book and the desk monitor on real PostgreSQL: one refund per order, deadlines on the calendar
as configured in the database, breaches counted once, the queue figures, and the guarded steps."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from prometheus_client import REGISTRY

from refunds.calendar_store import CalendarStore
from refunds.domain.review import Path
from refunds.lifecycle import RefundBook
from refunds.monitor import DeskMonitor
from tests.integration.conftest import migrated_pool
from topup_platform.outbox import Outbox
from topup_platform.runtime import service_migrations

BEIJING_NOON_FRIDAY = datetime(2026, 10, 9, 4, 0, tzinfo=UTC)  # 12:00 in Beijing; Saturday 10 Oct is worked


@pytest.fixture
async def pool(infra, schema: str) -> AsyncIterator[asyncpg.Pool]:  # type: ignore[no-untyped-def]
    p = await migrated_pool(infra.database_url, schema, service_migrations("refunds"), 10)
    yield p
    await p.close()


@pytest.fixture
async def book(pool: asyncpg.Pool) -> RefundBook:
    calendar = CalendarStore(pool)
    await calendar.reload()
    return RefundBook(Outbox("refunds"), calendar)


async def _request(pool: asyncpg.Pool, book: RefundBook, order_id: uuid.UUID,
                   confirmed_at: datetime = BEIJING_NOON_FRIDAY) -> asyncpg.Record | None:
    async with pool.acquire() as conn, conn.transaction():
        return await book.request(conn, order_id=order_id, channel_id="shop", payment_method="alipay",
                                  transaction_id=f"PAY-{order_id}", amount_fen=1000, reason_code="BOSS_X",
                                  confirmed_at=confirmed_at)


def _breaches() -> float:
    return REGISTRY.get_sample_value("topup_refunds_deadline_breaches_total") or 0.0


async def test_one_refund_per_order_due_on_the_calendar_in_the_database(pool: asyncpg.Pool, book: RefundBook) -> None:
    order_id = uuid.uuid4()
    first = await _request(pool, book, order_id)
    assert first is not None
    assert await _request(pool, book, order_id) is None  # a repeated event: still one refund
    # the migration's 2026 calendar: Saturday 10 October 2026 is a make-up working day (调休)
    assert first["deadline_at"] == datetime(2026, 10, 10, 16, 0, tzinfo=UTC)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM refunds WHERE order_id = $1", order_id) == 1


async def test_breaches_are_counted_once_and_the_figures_follow(pool: asyncpg.Pool, book: RefundBook,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    late, on_time = uuid.uuid4(), uuid.uuid4()
    await _request(pool, book, late)
    await _request(pool, book, on_time, BEIJING_NOON_FRIDAY + timedelta(days=3))
    deadline = datetime(2026, 10, 10, 16, 0, tzinfo=UTC)

    def monitor(at: datetime) -> DeskMonitor:
        return DeskMonitor(pool, due_soon=timedelta(hours=2), clock=lambda: at)

    before = _breaches()
    assert await monitor(deadline - timedelta(hours=1)).check() == 0
    assert REGISTRY.get_sample_value("topup_refunds_due_soon") == 1  # the late one is within 2 hours
    assert await monitor(deadline + timedelta(minutes=1)).check() == 1
    assert await monitor(deadline + timedelta(hours=5)).check() == 0  # counted once
    assert _breaches() == before + 1
    async with pool.acquire() as conn:
        breached = await conn.fetchval("SELECT deadline_breached_at FROM refunds WHERE order_id = $1", late)
    assert breached == deadline + timedelta(minutes=1)

    # settled late: counted then, if the monitor had not seen it yet
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT * FROM refunds WHERE order_id = $1", on_time)
    book.clock = lambda: row["deadline_at"] + timedelta(hours=1)
    async with pool.acquire() as conn, conn.transaction():
        assert await book.settle(conn, row["refund_id"], by="provider", what="settled_by_query") is not None
        assert await book.settle(conn, row["refund_id"], by="provider", what="settled_by_query") is None
    assert _breaches() == before + 2


async def test_a_failed_refund_opens_one_case_and_a_late_settlement_closes_it(pool: asyncpg.Pool,
                                                                             book: RefundBook) -> None:
    refund = await _request(pool, book, uuid.uuid4())
    assert refund is not None
    async with pool.acquire() as conn, conn.transaction():
        assert await book.fail(conn, refund, reason_code="PROVIDER_UNAVAILABLE", detail="no answer",
                               path=Path.REFUND_EXHAUSTED) is not None
        assert await book.fail(conn, refund, reason_code="PROVIDER_UNAVAILABLE", detail="again",
                               path=Path.REFUND_EXHAUSTED) is None  # already failed
    ten_minutes_later = datetime.now(UTC) + timedelta(minutes=10)
    figures = DeskMonitor(pool, due_soon=timedelta(hours=2), clock=lambda: ten_minutes_later)
    await figures.check()
    assert REGISTRY.get_sample_value("topup_review_queue_size") == 1
    assert 600 <= (REGISTRY.get_sample_value("topup_review_oldest_case_age_seconds") or 0) < 660
    async with pool.acquire() as conn, conn.transaction():  # the provider paid it after all (a late notice)
        assert await book.settle(conn, refund["refund_id"], by="provider", what="settled_by_notice") is not None
    async with pool.acquire() as conn:
        case = await conn.fetchrow("SELECT * FROM review_cases WHERE refund_id = $1", refund["refund_id"])
        trail = [r["action"] for r in await conn.fetch(
            "SELECT action FROM review_actions WHERE case_id = $1 ORDER BY at", case["case_id"])]
        events = [r["event_type"] for r in await conn.fetch("SELECT event_type FROM outbox ORDER BY id")]
    assert (case["status"], case["resolution"], trail) == ("RESOLVED", "settled_by_provider",
                                                           ["opened", "closed_by_system"])
    assert events == ["topup.events.v1.RefundFailed", "topup.events.v1.RefundSettled"]
    await figures.check()
    assert REGISTRY.get_sample_value("topup_review_queue_size") == 0
    assert REGISTRY.get_sample_value("topup_review_oldest_case_age_seconds") == 0


async def test_a_refund_is_cancelled_only_if_it_never_left(pool: asyncpg.Pool, book: RefundBook) -> None:
    never_sent, sent = uuid.uuid4(), uuid.uuid4()
    await _request(pool, book, never_sent)
    row = await _request(pool, book, sent)
    assert row is not None
    async with pool.acquire() as conn, conn.transaction():
        await book.later(conn, row, what="provider_unavailable", error="HTTP 503", delay=5, attempts=1)
    async with pool.acquire() as conn, conn.transaction():
        assert await book.cancel(conn, never_sent, "RECONCILED_CREDITED") is None
        assert await book.cancel(conn, sent, "RECONCILED_CREDITED") == "REQUESTED"  # it may be at the provider
        assert await book.cancel(conn, uuid.uuid4(), "RECONCILED_CREDITED") is None  # no refund at all
        statuses = dict(await conn.fetch("SELECT order_id, status FROM refunds"))
    assert (statuses[never_sent], statuses[sent]) == ("CANCELLED", "REQUESTED")
