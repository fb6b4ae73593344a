"""The working-day calendar as configured in the database, cached in memory; `reload` runs periodically (a
year changed through another replica is seen within REFUNDS_CALENDAR_REFRESH_SECONDS). Years nobody entered
follow the `chinesecalendar` package where it knows them; an entered year that disagrees with the package is
logged (once per content) for someone to check, and still wins."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from refunds import repository as repo
from refunds.domain.calendar import CalendarYear, WorkingCalendar
from refunds.published_calendar import disagreements, published_years
from topup_platform.logging import get_logger

log = get_logger(__name__)


class CalendarStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.published = published_years()
        self.calendar = WorkingCalendar(fallback=self.published)
        self.meta: dict[int, tuple[str, datetime]] = {}
        self._warned: set[int] = set()
        self._checked: set[CalendarYear] = set()

    async def reload(self) -> None:
        async with self.pool.acquire() as conn:
            rows = await repo.calendar_years(conn)
        years = {r["year"]: CalendarYear(r["year"], frozenset(r["holidays"]), frozenset(r["working_weekends"]))
                 for r in rows}
        self.calendar = WorkingCalendar(years, fallback=self.published)
        self.meta = {r["year"]: (r["updated_by"], r["updated_at"]) for r in rows}
        for year in years.values():
            if year not in self._checked and year.year in self.published:
                self._checked.add(year)
                if differ := disagreements(year, self.published[year.year]):
                    log.warning("the entered calendar year differs from the chinesecalendar package's (ours is used)",
                                year=year.year, days=[d.isoformat() for d in differ])

    def deadline(self, confirmed_at: datetime) -> tuple[datetime, date]:
        deadline_at, due_day = self.calendar.deadline(confirmed_at)
        for year in self.calendar.unconfigured_years(confirmed_at, deadline_at):
            if year not in self._warned:
                self._warned.add(year)
                log.warning("no holidays known for this year (entered or in the chinesecalendar package): "
                            "deadlines count weekends only", year=year)
        return deadline_at, due_day
