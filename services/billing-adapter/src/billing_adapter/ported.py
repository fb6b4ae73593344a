"""The numbers ported between carriers (携号转网) that BOSS publishes, relayed to the order core.

Every `ported_sync_seconds` (and once at start) the adapter asks BOSS for the numbers ported since the last
one it saw, and publishes each as a NumberPorted event; the events and the new cursor commit together, so a
crash republishes (the order core's update is idempotent) and never skips. The order core keeps them in its
local routing table, so the carrier check of every order stays local and fast.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import asyncpg

from billing_adapter.boss_client import BossClient
from topup.events.v1 import billing_pb2
from topup_platform.events import BILLING_TOPIC
from topup_platform.logging import get_logger
from topup_platform.outbox import INSERT_ROWS, Outbox, row_arrays
from topup_platform.timeutil import to_timestamp

log = get_logger(__name__)
NAME = "ported_numbers"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PortedNumbersSync:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, boss: BossClient, interval: float) -> None:
        self.pool = pool
        self.outbox = outbox
        self.boss = boss
        self.interval = interval
        self._stopping = asyncio.Event()

    async def sync_once(self) -> int:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT cursor_at, cursor_key FROM sync_state WHERE name = $1", NAME)
        cursor = (row["cursor_at"], row["cursor_key"]) if row else (EPOCH, "")
        items = await self.boss.ported_numbers(cursor[0])
        fresh = [(at, number, carrier) for at, number, carrier in items if (at, number) > cursor]
        if not fresh:
            return 0
        fresh.sort()
        rows = [self.outbox.row(BILLING_TOPIC, billing_pb2.NumberPorted(number=number, carrier=carrier,
                                                                        ported_at=to_timestamp(at)),
                                aggregate_type="number", aggregate_id=number) for at, number, carrier in fresh]
        last_at, last_number, _ = fresh[-1]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(INSERT_ROWS, *row_arrays(rows))
            await conn.execute(
                """INSERT INTO sync_state (name, cursor_at, cursor_key) VALUES ($1, $2, $3)
                   ON CONFLICT (name) DO UPDATE SET cursor_at = $2, cursor_key = $3, updated_at = now()""",
                NAME, last_at, last_number,
            )
        self.outbox.wake()
        log.info("ported numbers relayed", count=len(fresh))
        return len(fresh)

    async def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                await self.sync_once()
                failures = 0
            except Exception as err:
                failures += 1
                log.warning("ported-number sync failed; will retry", error=repr(err), failures=failures)
            wait = self.interval if not failures else min(self.interval, 0.5 * 2**failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)

    async def stop(self) -> None:
        self._stopping.set()
