"""Reconciliation of what the providers paid back with the orders' ledger (issue 13).

A refund SETTLED (the provider's word: its notice or a status query) whose order is not REFUNDED is a difference:
its RefundSettled was lost on the way (with the broker's messages, say). It is reported (a warning naming the
orders, `topup_refunds_ledger_differences_total`) and repaired by announcing the settlement again, which the
order core takes once (a repeat changes nothing). Never by guessing: only settled refunds are announced, and the
provider is never asked to pay anything. Every `interval`, for refunds settled more than `settle` ago (so that
the event on its way is not a difference) and less than `lookback` ago.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import grpc

from refunds import metrics
from refunds import repository as repo
from refunds.lifecycle import RefundBook
from topup.orders.v1 import orders_pb2, orders_pb2_grpc
from topup_platform.logging import get_logger
from topup_platform.timeutil import to_timestamp, utcnow

log = get_logger(__name__)

#: an order's refund is settled after its failure: orders created up to this long before the oldest refund looked at
_CREATED_BEFORE = timedelta(days=2)


class LedgerCheck:
    def __init__(self, pool: asyncpg.Pool, book: RefundBook, orders: orders_pb2_grpc.OrdersServiceStub, *,
                 settle: timedelta, lookback: timedelta, peer_timeout: float,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.pool = pool
        self.book = book
        self.orders = orders
        self.settle = settle
        self.lookback = lookback
        self.peer_timeout = peer_timeout
        self.clock = clock

    async def run_once(self) -> list[UUID]:
        """One round: the orders whose settlement was announced again."""
        now = self.clock()
        async with self.pool.acquire() as conn:
            settled = await repo.settled_between(conn, now - self.lookback, now - self.settle)
        if not settled:
            return []
        try:
            waiting = await self._orders_not_refunded(min(r["failure_confirmed_at"] for r in settled) - _CREATED_BEFORE)
        except grpc.RpcError as err:
            log.warning("could not read the orders' ledger; refunds not compared with it this round",
                        code=str(err.code()), detail=err.details())
            return []
        lagging = [r for r in settled if r["order_id"] in waiting]
        if not lagging:
            return []
        async with self.pool.acquire() as conn, conn.transaction():
            for refund in lagging:
                await self.book.settled_again(conn, refund)
        self.book.outbox.wake()
        metrics.LEDGER_DIFFERENCES.inc(len(lagging))
        log.warning("refunds settled at the provider whose orders are not REFUNDED: settlements announced again",
                    orders=[f"{r['order_id']} ({waiting[r['order_id']]})" for r in lagging])
        return [r["order_id"] for r in lagging]

    async def _orders_not_refunded(self, created_from: datetime) -> dict[UUID, str]:
        """Orders that wait for a refund (FAILED, REJECTED) created since `created_from`, with their status."""
        out: dict[UUID, str] = {}
        cursor = ""
        while True:
            page = await self.orders.ListOrders(orders_pb2.ListOrdersRequest(
                statuses=[orders_pb2.ORDER_STATUS_FAILED, orders_pb2.ORDER_STATUS_REJECTED],
                created_from=to_timestamp(created_from), limit=200, cursor=cursor), timeout=self.peer_timeout)
            for o in page.orders:
                out[UUID(o.order_id)] = orders_pb2.OrderStatus.Name(o.status).removeprefix("ORDER_STATUS_")
            if not page.next_cursor:
                return out
            cursor = page.next_cursor
