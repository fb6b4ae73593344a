"""Reconciliation (对账, F19): compare BOSS's transaction list for a window with our ledger.

Our ledger is the adapter's own record of every operation it asked BOSS for (its transaction id, amount or
pack, and what became of it). Differences, by class:

    CREDITED_AT_BOSS_NOT_HERE       BOSS did it; we recorded the job failed or its outcome unknown
    SUCCEEDED_HERE_MISSING_AT_BOSS  we recorded it done; BOSS has no such successful transaction
    AMOUNT_MISMATCH                 both say done, but not for the same amount or pack
    UNKNOWN_AT_US                   BOSS has a transaction id we never asked for

And against the orders' ledger (the order core's statuses, by gRPC):

    CREDITED_AT_BOSS_ORDER_NOT_SUCCEEDED  BOSS credited the whole order and we know it, but the order is not
                                          SUCCEEDED (the outcome was lost on the way, e.g. with the broker's
                                          messages): repaired by announcing it again; an order REFUNDED
                                          meanwhile (credited and refunded) is for a person

Repaired (with --repair, and always by the scheduled run): CREDITED_AT_BOSS_NOT_HERE when BOSS credited
every operation of the order. BOSS's ledger is the answer a status query would have given, so this is not
a guess: the job is recorded succeeded, and a ReconciliationRepaired event makes the order SUCCEEDED (a
refund not yet paid out is cancelled). Everything else goes to a person (a ReconciliationDiscrepancy event
for the review desk). Jobs still being worked on are not differences. Every run and item is stored.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import grpc

from billing_adapter.boss_client import BossClient
from topup.events.v1 import billing_pb2
from topup.orders.v1 import orders_pb2, orders_pb2_grpc
from topup_platform.events import BILLING_TOPIC
from topup_platform.ids import new_id
from topup_platform.logging import get_logger
from topup_platform.outbox import INSERT_ROWS, Outbox, OutboxRow, row_arrays
from topup_platform.timeutil import to_timestamp, utcnow

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    transaction_id: str
    order_id: str
    boss_status: str
    boss_amount_fen: int | None
    our_state: str
    our_amount_fen: int | None
    action: str
    detail: str


@dataclass
class Report:
    run_id: str
    window_start: str
    window_end: str
    repair: bool
    boss_transactions: int
    our_operations: int
    differences: list[Difference]
    #: whether the orders' ledger was compared too (False: the order core could not be asked; see the log)
    orders_compared: bool = False

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for d in self.differences:
            out[d.kind] += 1
        return dict(out)

    def as_json(self) -> dict[str, Any]:
        return {**{k: v for k, v in asdict(self).items() if k != "differences"}, "counts": self.counts(),
                "differences": [asdict(d) for d in self.differences]}

    def as_csv(self) -> str:
        out = io.StringIO()
        fields = list(Difference.__dataclass_fields__)
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for d in self.differences:
            writer.writerow(asdict(d))
        return out.getvalue()


_OURS = """
SELECT o.transaction_id, o.order_id, o.kind, o.amount_fen, o.pack_code, o.state AS op_state, f.state AS job_state
FROM operations o JOIN fulfilments f USING (order_id)
WHERE o.transaction_id = ANY($1::text[])
   OR (f.created_at >= $2 AND f.created_at < $3)
"""


#: how long before the window an order credited in it may have been created (a review, a long BOSS outage)
ORDERS_LOOKBACK = timedelta(days=2)
_NOT_SUCCEEDED = [name for name in orders_pb2.OrderStatus.keys()
                  if name not in ("ORDER_STATUS_UNSPECIFIED", "ORDER_STATUS_SUCCEEDED")]


class Reconciler:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, boss: BossClient,
                 orders: orders_pb2_grpc.OrdersServiceStub | None = None, *, peer_timeout: float = 10.0) -> None:
        self.pool = pool
        self.outbox = outbox
        self.boss = boss
        self.orders = orders
        self.peer_timeout = peer_timeout

    async def _orders_not_succeeded(self, start: datetime, end: datetime) -> dict[UUID, str] | None:
        """The order core's orders created in the window (or up to `ORDERS_LOOKBACK` before it) that are not
        SUCCEEDED, with their status; None when it cannot be asked."""
        if self.orders is None:
            return None
        out: dict[UUID, str] = {}
        cursor = ""
        try:
            while True:
                page = await self.orders.ListOrders(orders_pb2.ListOrdersRequest(
                    statuses=_NOT_SUCCEEDED, created_from=to_timestamp(start - ORDERS_LOOKBACK),
                    created_to=to_timestamp(end), limit=200, cursor=cursor), timeout=self.peer_timeout)
                for o in page.orders:
                    out[UUID(o.order_id)] = orders_pb2.OrderStatus.Name(o.status).removeprefix("ORDER_STATUS_")
                if not page.next_cursor:
                    return out
                cursor = page.next_cursor
        except grpc.RpcError as err:
            log.warning("reconciliation could not read the orders' ledger; BOSS compared with ours only",
                        code=str(err.code()), detail=err.details())
            return None

    async def run(self, start: datetime, end: datetime, *, repair: bool, actor: str) -> Report:
        boss = {t["transaction_id"]: t for t in await self.boss.transactions(start, end)}
        async with self.pool.acquire() as conn:
            ours = {r["transaction_id"]: r for r in await conn.fetch(_OURS, list(boss), start, end)}
        run_id = new_id()
        differences: list[Difference] = []
        repairs: dict[UUID, list[asyncpg.Record]] = defaultdict(list)

        def differ(kind: str, txn: str, mine: asyncpg.Record | None, theirs: dict[str, Any] | None, action: str,
                   detail: str) -> None:
            differences.append(Difference(
                kind, txn, str(mine["order_id"]) if mine else "", (theirs or {}).get("status", ""),
                (theirs or {}).get("amount_fen"), mine["job_state"] if mine else "",
                mine["amount_fen"] if mine else None, action, detail))

        for txn, theirs in boss.items():
            mine = ours.get(txn)
            if mine is None:
                differ("UNKNOWN_AT_US", txn, None, theirs, "needs_review", "BOSS has a transaction we never asked for")
            elif theirs["status"] == "SUCCESS" and mine["op_state"] != "succeeded":
                if mine["job_state"] in ("failed", "unknown", "cancelled"):
                    repairs[mine["order_id"]].append(mine)
                # pending / in_progress: still being worked on; the job will learn it from BOSS itself
            elif theirs["status"] == "SUCCESS" and (theirs["amount_fen"], theirs["pack_code"]) != (
                    mine["amount_fen"], mine["pack_code"]):
                differ("AMOUNT_MISMATCH", txn, mine, theirs, "needs_review",
                       f"BOSS: {theirs['amount_fen']} fen {theirs['pack_code']}; "
                       f"ours: {mine['amount_fen']} fen {mine['pack_code']}")
        for txn, mine in ours.items():
            at_boss = boss.get(txn)
            if mine["op_state"] == "succeeded" and (at_boss is None or at_boss["status"] != "SUCCESS"):
                differ("SUCCEEDED_HERE_MISSING_AT_BOSS", txn, mine, at_boss, "needs_review",
                       "we recorded it done; BOSS has no successful transaction")

        events: list[OutboxRow] = []
        repaired_orders: list[UUID] = []
        # the orders' ledger: an order BOSS credited in full, as we recorded, that is not SUCCEEDED
        statuses = await self._orders_not_succeeded(start, end)
        lagging: list[tuple[UUID, str, list[asyncpg.Record]]] = []
        if statuses:
            done = defaultdict(list)
            for txn, mine in ours.items():
                if mine["op_state"] == "succeeded" and mine["job_state"] == "succeeded" and \
                        boss.get(txn, {}).get("status") == "SUCCESS" and mine["order_id"] in statuses:
                    done[mine["order_id"]].append(mine)
            if done:
                async with self.pool.acquire() as conn:
                    all_ops = {r["order_id"]: set(r["txns"]) for r in await conn.fetch(
                        """SELECT order_id, array_agg(transaction_id) AS txns FROM operations
                           WHERE order_id = ANY($1::uuid[]) GROUP BY order_id""", list(done))}
                lagging = [(order_id, statuses[order_id], credited) for order_id, credited in done.items()
                           if all_ops.get(order_id) == {m["transaction_id"] for m in credited}]
        for order_id, status, credited in lagging:
            action = "needs_review" if status == "REFUNDED" else "repaired" if repair else "reported"
            for m in credited:
                differ("CREDITED_AT_BOSS_ORDER_NOT_SUCCEEDED", m["transaction_id"], m, boss[m["transaction_id"]],
                       action, f"BOSS credited it and so did we; the order is {status}"
                               + (" (credited and refunded)" if status == "REFUNDED" else ""))
            if action == "repaired":  # announced again: the order core takes BOSS's ledger for the outcome
                events.append(self.outbox.row(BILLING_TOPIC, billing_pb2.ReconciliationRepaired(
                    order_id=str(order_id), run_id=str(run_id),
                    transaction_ids=[m["transaction_id"] for m in credited],
                    boss_serials=[boss[m["transaction_id"]]["boss_serial"] for m in credited],
                    at=to_timestamp(utcnow())), aggregate_type="order", aggregate_id=str(order_id)))
        async with self.pool.acquire() as conn:
            for order_id, credited in repairs.items():
                operations = await conn.fetch("SELECT transaction_id FROM operations WHERE order_id = $1", order_id)
                whole = {r["transaction_id"] for r in operations} == {m["transaction_id"] for m in credited}
                action = "repaired" if repair and whole else "needs_review" if not whole else "reported"
                for m in credited:
                    differ("CREDITED_AT_BOSS_NOT_HERE", m["transaction_id"], m, boss[m["transaction_id"]], action,
                           "BOSS credited it" + ("" if whole else "; other parts of the order were not"))
                if action == "repaired":
                    repaired_orders.append(order_id)
                    events.append(self.outbox.row(BILLING_TOPIC, billing_pb2.ReconciliationRepaired(
                        order_id=str(order_id), run_id=str(run_id),
                        transaction_ids=[m["transaction_id"] for m in credited],
                        boss_serials=[boss[m["transaction_id"]]["boss_serial"] for m in credited],
                        at=to_timestamp(utcnow())), aggregate_type="order", aggregate_id=str(order_id)))
            for d in differences:
                if d.action == "needs_review":
                    events.append(self.outbox.row(BILLING_TOPIC, billing_pb2.ReconciliationDiscrepancy(
                        run_id=str(run_id), kind=d.kind, order_id=d.order_id, transaction_id=d.transaction_id,
                        detail=d.detail, at=to_timestamp(utcnow())), aggregate_type="order",
                        aggregate_id=d.order_id or d.transaction_id))
            async with conn.transaction():
                await conn.execute(
                    """INSERT INTO reconciliation_runs (run_id, window_start, window_end, repair, started_by,
                                                        boss_transactions, our_operations, finished_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, now())""",
                    run_id, start, end, repair, actor, len(boss), len(ours))
                await conn.executemany(
                    """INSERT INTO reconciliation_items (run_id, kind, transaction_id, order_id, boss_status,
                                                         boss_amount_fen, our_state, our_amount_fen, action, detail)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
                    [(run_id, d.kind, d.transaction_id, UUID(d.order_id) if d.order_id else None, d.boss_status,
                      d.boss_amount_fen, d.our_state, d.our_amount_fen, d.action, d.detail) for d in differences])
                if repaired_orders:
                    await conn.execute("UPDATE operations SET state = 'succeeded' WHERE order_id = ANY($1::uuid[])",
                                       repaired_orders)
                    await conn.execute(
                        """UPDATE fulfilments SET state = 'succeeded', reason_code = 'RECONCILED', updated_at = now()
                           WHERE order_id = ANY($1::uuid[])""", repaired_orders)
                if events:
                    await conn.execute(INSERT_ROWS, *row_arrays(events))
        if events:
            self.outbox.wake()
        report = Report(str(run_id), start.isoformat(), end.isoformat(), repair, len(boss), len(ours), differences,
                        orders_compared=statuses is not None)
        log.info("reconciliation run", run_id=str(run_id), window_start=start.isoformat(),
                 window_end=end.isoformat(), boss_transactions=len(boss), our_operations=len(ours),
                 differences=report.counts(), repaired=len(repaired_orders), by=actor)
        return report


class ScheduledReconciliation:
    """Each run (every `interval`, run periodically by the service) reconciles the window since the last run,
    up to `settle` ago (so that work still in flight is not a difference), repairing what is safe."""

    def __init__(self, reconciler: Reconciler, interval: float, settle: timedelta) -> None:
        self.reconciler = reconciler
        self.interval = interval
        self.settle = settle

    async def run_once(self) -> Report | None:
        end = utcnow() - self.settle
        async with self.reconciler.pool.acquire() as conn:
            last = await conn.fetchval("SELECT max(window_end) FROM reconciliation_runs WHERE started_by = 'schedule'")
        start = last or end - timedelta(seconds=self.interval)
        if start >= end:
            return None
        return await self.reconciler.run(start, end, repair=True, actor="schedule")
