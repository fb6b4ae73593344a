"""The statement's query on real PostgreSQL: which orders a Beijing day holds (the last final status each reached
that day), its edges at Beijing midnight, a past day that never changes when a refund lands the next day, another
channel's orders never, and the partial index it reads through."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from orders import repository
from orders.catalog import Catalog
from orders.domain.models import Payment, PaymentMethod
from orders.domain.statement import BEIJING
from orders.service import OrdersService
from tests.integration.test_orders_core import ALLOW, request
from topup.orders.v1 import orders_pb2
from topup_platform.db import create_pool
from topup_platform.migrations import migrate
from topup_platform.outbox import Outbox
from topup_platform.runtime import service_migrations

DAY = datetime(2026, 11, 24, tzinfo=BEIJING)


@pytest.fixture
async def service(infra, schema: str) -> AsyncIterator[OrdersService]:  # type: ignore[no-untyped-def]
    conn = await asyncpg.connect(infra.database_url)
    try:
        await migrate(conn, schema, service_migrations("orders"))
        await conn.execute(f"SET search_path TO {schema}")
        await conn.execute("INSERT INTO channel_prices (channel_id, sku, price_fen) VALUES ('shop', 'CREDIT_50', 4900),"
                           " ('mall', 'CREDIT_50', 5000)")
    finally:
        await conn.close()
    pool = await create_pool(infra.database_url, schema=schema, application_name="tests", max_size=5)
    catalog = Catalog(pool)
    await catalog.reload()
    yield OrdersService(pool, Outbox("orders"), catalog)
    await pool.close()


async def _order(service: OrdersService, name: str, moves: list[tuple[str, datetime]], channel: str = "shop",
                 paid: int = 4900) -> str:
    """An order whose history, after its acceptance, is these (status, when) moves (written as they would be,
    with the times the test needs)."""
    payment = Payment(PaymentMethod.ALIPAY, f"PAY-{channel}-{name}", paid)
    order, _ = await service.create_recharge(request(name, channel_id=channel, payment=payment), ALLOW)
    async with service.pool.acquire() as conn:
        status = "PENDING"
        for to_status, at in moves:
            await conn.execute(
                """INSERT INTO order_history (order_id, from_status, to_status, transition, reason_code, actor_kind,
                                              actor_id, at) VALUES ($1, $2, $3, 'test', $4, 'service', 'test', $5)""",
                UUID(order.order_id), status, to_status, "BOSS_SUBSCRIBER_NOT_FOUND" if to_status == "FAILED" else "",
                at)
            status = to_status
        await conn.execute("UPDATE orders SET status = $2 WHERE order_id = $1", UUID(order.order_id), status)
    return order.order_id


async def _statement(service: OrdersService, date: str) -> tuple[dict[str, orders_pb2.StatementLine],
                                                                  orders_pb2.StatementSummary]:
    lines: dict[str, orders_pb2.StatementLine] = {}
    summary = None
    async for chunk in service.statement("shop", date):
        lines |= {line.order_id: line for line in chunk.lines}
        if chunk.HasField("summary"):
            summary = chunk.summary
    assert summary is not None
    return lines, summary


async def test_a_day_holds_the_last_final_status_of_each_order(service: OrdersService) -> None:
    h = timedelta(hours=1)
    credited = await _order(service, "A", [("PROCESSING", DAY + 9 * h), ("SUCCEEDED", DAY + 10 * h)])
    at_midnight = await _order(service, "M", [("SUCCEEDED", DAY)])  # the first instant of the day is in it
    next_day = await _order(service, "N", [("SUCCEEDED", DAY + 24 * h)])  # the first instant of the next is not
    refunded = await _order(service, "R", [("FAILED", DAY + 10 * h), ("REFUNDED", DAY + 11 * h)])
    late = await _order(service, "L", [("FAILED", DAY + 24 * h - timedelta(seconds=1)),
                                       ("REFUNDED", DAY + 24 * h + timedelta(seconds=1))])
    held = await _order(service, "U", [("UNDER_REVIEW", DAY + 12 * h)])
    theirs = await _order(service, "T", [("SUCCEEDED", DAY + 10 * h)], channel="mall", paid=5000)

    lines, summary = await _statement(service, "2026-11-24")
    assert list(lines) == [at_midnight, credited, refunded, late]  # in the order they got there
    assert {o: orders_pb2.OrderStatus.Name(line.status) for o, line in lines.items()} == {
        at_midnight: "ORDER_STATUS_SUCCEEDED", credited: "ORDER_STATUS_SUCCEEDED",
        refunded: "ORDER_STATUS_REFUNDED", late: "ORDER_STATUS_FAILED"}  # late's refund landed the next day
    assert [lines[o].refund_fen for o in (credited, refunded, late)] == [0, 4900, 0]
    assert lines[late].status_reason_code == "BOSS_SUBSCRIBER_NOT_FOUND"
    assert next_day not in lines and held not in lines and theirs not in lines
    totals = {orders_pb2.OrderStatus.Name(t.status): (t.count, t.paid_fen, t.refund_fen) for t in summary.totals}
    assert totals == {"ORDER_STATUS_SUCCEEDED": (2, 9800, 0), "ORDER_STATUS_FAILED": (1, 4900, 0),
                      "ORDER_STATUS_REFUNDED": (1, 4900, 4900), "ORDER_STATUS_REJECTED": (0, 0, 0),
                      "ORDER_STATUS_UNSPECIFIED": (4, 19600, 4900)}
    assert summary.complete and summary.date == "2026-11-24"

    following, _ = await _statement(service, "2026-11-25")
    assert list(following) == [next_day, late]
    assert (orders_pb2.OrderStatus.Name(following[late].status), following[late].refund_fen) == (
        "ORDER_STATUS_REFUNDED", 4900)
    again, _ = await _statement(service, "2026-11-24")  # a past day's statement does not change
    assert again == lines


async def test_the_query_reads_the_partial_index(service: OrdersService) -> None:
    async with service.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + repository._STATEMENT, "shop", DAY,
                                                        DAY + timedelta(days=1)))
    assert "order_history_statement" in plan, plan
