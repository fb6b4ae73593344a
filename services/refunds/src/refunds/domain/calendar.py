"""The working-day calendar refund deadlines run on (F11: refunded within 1 working day).

A day is a working day when it is a weekday that is not a public holiday, or a weekend day declared a
make-up working day (调休). Each year's holidays and make-up days are published by the State Council in the
autumn before, so they are data (configured per year), not code. A year nobody configured follows the
`chinesecalendar` package when it publishes that year (`source` "chinesecalendar"), and otherwise counts weekends
only, and says so (`source` "weekends_only"); either way `CalendarYear.configured` is False.

The deadline: a failure confirmed on day D (Beijing time) must be refunded by the end of the first working
day after D (T+1 working days, as the industry counts it). Confirmed on Tuesday → by Wednesday 24:00;
confirmed on Friday or over the weekend → by Monday 24:00, unless Monday is a holiday; confirmed on the
Friday before a 调休 Saturday → by that Saturday 24:00.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone

#: China Standard Time: UTC+8 all year (no daylight saving since 1991), so a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "CST")

SATURDAY, SUNDAY = 5, 6


class CalendarError(ValueError):
    """A calendar year that does not make sense (a date outside the year, a weekday as make-up day...)."""


@dataclass(frozen=True, slots=True)
class CalendarYear:
    year: int
    holidays: frozenset[date] = frozenset()
    working_weekends: frozenset[date] = frozenset()
    configured: bool = True
    #: "entered" (by staff or a migration), "chinesecalendar" (the package's, for a year nobody entered), or
    #: "weekends_only" (nobody knows this year's holidays)
    source: str = "entered"

    @classmethod
    def parse(cls, year: int, holidays: Iterable[str], working_weekends: Iterable[str]) -> CalendarYear:
        """Validate a year as staff enter it (ISO dates); raises CalendarError."""
        try:
            days_off = frozenset(date.fromisoformat(d) for d in holidays)
            days_on = frozenset(date.fromisoformat(d) for d in working_weekends)
        except ValueError as err:
            raise CalendarError(f"not an ISO date: {err}") from None
        if not 2000 <= year <= 2100:
            raise CalendarError("the year must be between 2000 and 2100")
        if outside := sorted(d.isoformat() for d in days_off | days_on if d.year != year):
            raise CalendarError(f"dates outside {year}: {', '.join(outside)}")
        if weekdays := sorted(d.isoformat() for d in days_on if d.weekday() < SATURDAY):
            raise CalendarError(f"make-up working days (调休) must be weekend days: {', '.join(weekdays)}")
        if both := sorted(d.isoformat() for d in days_off & days_on):
            raise CalendarError(f"both a holiday and a working day: {', '.join(both)}")
        return cls(year, days_off, days_on)


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    #: the years entered (they win)
    years: Mapping[int, CalendarYear] = field(default_factory=dict)
    #: the years published elsewhere (the chinesecalendar package), for those nobody entered
    fallback: Mapping[int, CalendarYear] = field(default_factory=dict)

    def year(self, year: int) -> CalendarYear:
        return (self.years.get(year) or self.fallback.get(year)
                or CalendarYear(year, configured=False, source="weekends_only"))

    def is_working_day(self, day: date) -> bool:
        y = self.year(day.year)
        if day in y.working_weekends:
            return True
        return day.weekday() < SATURDAY and day not in y.holidays

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        candidate = day + timedelta(days=1)
        for _ in range(60):  # the longest run of days off (Spring Festival and weekends) is about 10
            if self.is_working_day(candidate):
                return candidate
            candidate += timedelta(days=1)
        raise CalendarError(f"no working day in the 60 days after {day}: the calendar is wrong")

    def deadline(self, confirmed_at: datetime) -> tuple[datetime, date]:
        """The instant a refund is due for a failure confirmed at `confirmed_at`, and its working day."""
        if confirmed_at.tzinfo is None:
            raise ValueError("confirmed_at must be timezone-aware")
        due_day = self.next_working_day(confirmed_at.astimezone(BEIJING).date())
        end = datetime.combine(due_day + timedelta(days=1), time(0), tzinfo=BEIJING)
        return end.astimezone(UTC), due_day

    def unconfigured_years(self, *instants: datetime) -> list[int]:
        """Years a deadline computation touches whose holidays nobody knows (neither entered nor published)."""
        return sorted({i.astimezone(BEIJING).year for i in instants} - set(self.years) - set(self.fallback))
