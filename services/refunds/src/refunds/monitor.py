"""The desk's watch: deadlines breached (each counted and logged once), and the figures the dashboards and
alerts read (refunds due soon, the review queue and its oldest case). Every replica computes the same
figures from the database; a breach is counted by whichever replica marks it first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg

from refunds import metrics
from refunds import repository as repo
from topup_platform.timeutil import utcnow


class DeskMonitor:
    def __init__(self, pool: asyncpg.Pool, *, due_soon: timedelta, clock: Callable[[], datetime] = utcnow) -> None:
        self.pool = pool
        self.due_soon = due_soon
        self.clock = clock

    async def check(self) -> int:
        """One round; returns the breaches found."""
        now = self.clock()
        async with self.pool.acquire() as conn:
            breached = await repo.mark_breaches(conn, now)
            figures = await repo.desk_figures(conn, now, now + self.due_soon)
        for refund in breached:
            metrics.count_breach(refund, now, settled=False)
        metrics.DUE_SOON.set(figures["due_soon"])
        metrics.REVIEW_QUEUE.set(figures["queue"])
        oldest = figures["oldest"]
        metrics.OLDEST_CASE_AGE.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        return len(breached)
