"""The holidays and make-up working days (调休) of the years nobody entered, as the `chinesecalendar` package
publishes them (it follows the State Council's notices, one release a year, each autumn).

Entered years always win; the package only fills the years nobody entered, and a year it does not know yet (it
raises for those) still counts weekends only. `disagreements` names the days where an entered year and the package
differ, so a typo in an entered year shows up in the log.
"""

from __future__ import annotations

from datetime import date, timedelta

from chinese_calendar import constants

from refunds.domain.calendar import SATURDAY, CalendarYear, WorkingCalendar


def published_years() -> dict[int, CalendarYear]:
    """Every year the package publishes, as our calendar's years: the weekdays off, and the weekend days worked."""
    holidays: dict[int, set[date]] = {}
    working: dict[int, set[date]] = {}
    for day in constants.holidays:
        if day.weekday() < SATURDAY:  # a weekend day inside a holiday is off anyway
            holidays.setdefault(day.year, set()).add(day)
    for day in constants.workdays:
        if day.weekday() >= SATURDAY:
            working.setdefault(day.year, set()).add(day)
    return {year: CalendarYear(year, frozenset(holidays.get(year, ())), frozenset(working.get(year, ())),
                               configured=False, source="chinesecalendar")
            for year in sorted(holidays.keys() | working.keys())}


def disagreements(entered: CalendarYear, published: CalendarYear) -> list[date]:
    """The days of the year that one calendar has as working days and the other as days off."""
    ours, theirs = WorkingCalendar({entered.year: entered}), WorkingCalendar({published.year: published})
    first = date(entered.year, 1, 1)
    days = (first + timedelta(days=n) for n in range((date(entered.year + 1, 1, 1) - first).days))
    return [d for d in days if ours.is_working_day(d) != theirs.is_working_day(d)]
