"""The fallback for years nobody entered: the holidays and make-up working days (调休) the `chinesecalendar`
package publishes; and the years we did enter (the migration's) agree with it day by day."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from refunds.domain.calendar import CalendarYear, WorkingCalendar
from refunds.published_calendar import disagreements, published_years

MIGRATIONS = Path(__file__).resolve().parents[2] / "src" / "refunds" / "migrations"
PUBLISHED = published_years()


def entered_years() -> dict[int, CalendarYear]:
    """The years the migrations enter (INSERT INTO calendar_years ... (year, ARRAY[...]::date[], ARRAY[...]))."""
    years = {}
    for sql in sorted(MIGRATIONS.glob("*.sql")):
        for year, holidays, working in re.findall(
                r"\(([0-9]{4}),\s*ARRAY\[([^\]]*)\]::date\[\],\s*ARRAY\[([^\]]*)\]::date\[\]", sql.read_text()):
            years[int(year)] = CalendarYear.parse(int(year), re.findall(r"'([0-9-]+)'", holidays),
                                                  re.findall(r"'([0-9-]+)'", working))
    return years


def days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]


def test_the_migrations_enter_years() -> None:
    assert {2025, 2026} <= set(entered_years())


@pytest.mark.parametrize("year", sorted(entered_years()))
def test_every_entered_year_agrees_with_the_package_day_by_day(year: int) -> None:
    entered = WorkingCalendar({year: entered_years()[year]})
    if year not in PUBLISHED:
        pytest.skip(f"chinesecalendar {chinese_calendar.__version__} does not publish {year} yet")
    for day in days_of(year):
        assert entered.is_working_day(day) == chinese_calendar.is_workday(day), day
    assert disagreements(entered_years()[year], PUBLISHED[year]) == []


def test_the_published_years_are_valid_years_of_our_calendar() -> None:
    assert set(range(2004, 2027)) <= set(PUBLISHED)
    for year, published in PUBLISHED.items():
        assert published.source == "chinesecalendar" and not published.configured
        # what staff could have entered: make-up days are weekend days, every date inside its year
        assert CalendarYear.parse(year, [d.isoformat() for d in published.holidays],
                                  [d.isoformat() for d in published.working_weekends]).holidays == published.holidays
        cal = WorkingCalendar(fallback={year: published})
        assert all(cal.is_working_day(d) == chinese_calendar.is_workday(d) for d in days_of(year))


def test_a_year_nobody_entered_follows_the_package() -> None:
    cal = WorkingCalendar(fallback=PUBLISHED)
    # 2024's Spring Festival: 10-17 February off, Sunday 18 February worked (调休); weekends only would say Monday 12
    assert cal.deadline(datetime.fromisoformat("2024-02-09T10:00:00+08:00"))[1] == date(2024, 2, 18)
    assert cal.year(2024).source == "chinesecalendar"
    assert cal.unconfigured_years(datetime.fromisoformat("2024-02-09T10:00:00+08:00")) == []
    # a year the package does not know either still counts weekends only, and says so
    assert cal.year(2091).source == "weekends_only" and cal.unconfigured_years(
        datetime.fromisoformat("2091-05-01T10:00:00+08:00")) == [2091]


def test_an_entered_year_wins_over_the_package() -> None:
    entered = CalendarYear.parse(2024, ["2024-02-12"], [])
    cal = WorkingCalendar({2024: entered}, fallback=PUBLISHED)
    assert cal.year(2024) is entered and cal.year(2024).source == "entered"
    assert cal.deadline(datetime.fromisoformat("2024-02-09T10:00:00+08:00"))[1] == date(2024, 2, 13)
    assert date(2024, 2, 12) not in disagreements(entered, PUBLISHED[2024])
    assert date(2024, 2, 13) in disagreements(entered, PUBLISHED[2024])  # the package has it off
    assert date(2024, 2, 18) in disagreements(entered, PUBLISHED[2024])  # the package has it worked
