"""The working-day calendar as configured in the database, cached in memory; `reload` runs periodically (a
year changed through another replica is seen within REFUNDS_CALENDAR_REFRESH_SECONDS)."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from refunds import repository as repo
from refunds.domain.calendar import CalendarYear, WorkingCalendar
from topup_platform.logging import get_logger

log = get_logger(__name__)


class CalendarStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.calendar = WorkingCalendar()
        self.meta: dict[int, tuple[str, datetime]] = {}
        self._warned: set[int] = set()

    async def reload(self) -> None:
        async with self.pool.acquire() as conn:
            rows = await repo.calendar_years(conn)
        self.calendar = WorkingCalendar({r["year"]: CalendarYear(r["year"], frozenset(r["holidays"]),
                                                                 frozenset(r["working_weekends"])) for r in rows})
        self.meta = {r["year"]: (r["updated_by"], r["updated_at"]) for r in rows}

    def deadline(self, confirmed_at: datetime) -> tuple[datetime, date]:
        deadline_at, due_day = self.calendar.deadline(confirmed_at)
        for year in self.calendar.unconfigured_years(confirmed_at, deadline_at):
            if year not in self._warned:
                self._warned.add(year)
                log.warning("no holidays configured for this year: deadlines count weekends only", year=year)
        return deadline_at, due_day
