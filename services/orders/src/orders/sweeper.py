"""The stuck-order sweeper (F10): an order that made no progress in PENDING or PROCESSING for 30 minutes is
flagged UNDER_REVIEW, and the review desk opens a case for it. The clock is injected, so the 30 minutes are
tested without waiting them (and a drill can run the sweep "as of" a later time).

A flagged order is not abandoned: if the BOSS adapter was only slow, its late word still moves the order on
(see the state table), and the desk closes the case; the watchdog keeps asking the adapter for that word.

The sweeper holds back while the order core's events cannot be published (the broker is away): then every
order is without progress, the desk could not hear of the flags anyway, and the watchdog finishes what the
broker's return makes possible. The review desk is for what healing cannot finish.

`Watchdog` is the self-healing round (`OrdersService.redrive_stalled`, `domain/redrive.py`).
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
                 clock: Callable[[], datetime] = utcnow, hold_back_after: timedelta = timedelta(seconds=30)) -> None:
        self.service = service
        self.threshold = threshold
        self.clock = clock
        self.hold_back_after = hold_back_after

    async def sweep(self) -> list[UUID]:
        if await self.service.broker_unreachable(self.hold_back_after):
            return []
        return await self.service.flag_stuck(self.clock() - self.threshold)

    def periodic(self, interval: float) -> Periodic:
        return Periodic("stuck-sweeper", self.sweep, interval)


class Watchdog:
    """Self-healing: orders whose next step is another service's and that made no progress for `after` have it
    asked for again, then after twice as long each time, up to `cap`; after `give_up` without progress they are
    the review desk's alone."""

    def __init__(self, service: OrdersService, *, after: timedelta, cap: timedelta, give_up: timedelta) -> None:
        self.service = service
        self.after = after
        self.cap = cap
        self.give_up = give_up

    async def round(self) -> list[UUID]:
        return await self.service.redrive_stalled(after=self.after, cap=self.cap, give_up=self.give_up)

    def periodic(self, interval: float) -> Periodic:
        return Periodic("watchdog", self.round, interval)
