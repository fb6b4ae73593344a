"""The stuck-order sweeper (F10): an order that made no progress in PENDING or PROCESSING for 30 minutes is
flagged UNDER_REVIEW, and the review desk opens a case for it. The clock is injected, so the 30 minutes are
tested without waiting them (and a drill can run the sweep "as of" a later time).

A flagged order is not abandoned: if the BOSS adapter was only slow, its late word still moves the order on
(see the state table), and the desk closes the case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from orders.service import OrdersService
from topup_platform.runtime import Periodic
from topup_platform.timeutil import utcnow


class StuckSweeper:
    def __init__(self, service: OrdersService, threshold: timedelta, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.service = service
        self.threshold = threshold
        self.clock = clock

    async def sweep(self) -> list[UUID]:
        return await self.service.flag_stuck(self.clock() - self.threshold)

    def periodic(self, interval: float) -> Periodic:
        return Periodic("stuck-sweeper", self.sweep, interval)
