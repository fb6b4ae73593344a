"""The working-day calendar and the refund deadline (F11): weekends, public holidays, make-up working days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refunds.domain.calendar import BEIJING, CalendarError, CalendarYear, WorkingCalendar

# 2026 as the State Council published it: National Day 1–7 October off, Saturday 10 October worked (调休).
Y2026 = CalendarYear.parse(2026, ["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"],
                           ["2026-09-20", "2026-10-10"])
CAL = WorkingCalendar({2026: Y2026})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def due_day(confirmed: str) -> str:
    return CAL.deadline(at(confirmed))[1].isoformat()


@pytest.mark.parametrize(("confirmed", "due"), [
    ("2026-11-24T10:00:00+08:00", "2026-11-25"),  # Tuesday → Wednesday
    ("2026-11-24T23:59:59+08:00", "2026-11-25"),  # any time of the day counts as that day
    ("2026-11-27T09:00:00+08:00", "2026-11-30"),  # Friday → Monday
    ("2026-11-28T09:00:00+08:00", "2026-11-30"),  # Saturday → Monday
    ("2026-09-30T10:00:00+08:00", "2026-10-08"),  # before the holiday week → Thursday after it
    ("2026-10-03T10:00:00+08:00", "2026-10-08"),  # during it
    ("2026-10-09T15:00:00+08:00", "2026-10-10"),  # Friday before a 调休 Saturday → that Saturday
    ("2026-09-19T15:00:00+08:00", "2026-09-20"),  # Saturday before a 调休 Sunday → that Sunday
    ("2026-11-24T20:00:00+00:00", "2026-11-26"),  # 20:00 UTC is already Wednesday in Beijing
])
def test_the_deadline_is_the_end_of_the_next_working_day(confirmed: str, due: str) -> None:
    assert due_day(confirmed) == due


def test_the_deadline_is_midnight_beijing_time_in_utc() -> None:
    deadline, day = CAL.deadline(at("2026-11-24T10:00:00+08:00"))
    assert day == date(2026, 11, 25)
    assert deadline == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # 26 Nov 00:00 CST


def test_a_year_nobody_configured_counts_weekends_only() -> None:
    assert not CAL.year(2031).configured
    assert CAL.deadline(at("2031-05-01T10:00:00+08:00"))[1] == date(2031, 5, 2)  # Labour Day unknown: a workday
    assert CAL.unconfigured_years(at("2031-05-01T10:00:00+08:00")) == [2031]
    assert CAL.unconfigured_years(at("2026-05-01T10:00:00+08:00")) == []


def test_the_calendar_crosses_years() -> None:
    cal = WorkingCalendar({2026: Y2026, 2027: CalendarYear.parse(2027, ["2027-01-01"], [])})
    assert cal.deadline(at("2026-12-31T10:00:00+08:00"))[1] == date(2027, 1, 4)  # New Year's Day, then a weekend


@pytest.mark.parametrize(("holidays", "working", "problem"), [
    (["2026-13-01"], [], "not an ISO date"),
    (["2025-12-31"], [], "outside 2026"),
    ([], ["2026-10-09"], "must be weekend days"),
    (["2026-10-10"], ["2026-10-10"], "both a holiday and a working day"),
])
def test_a_year_that_makes_no_sense_is_refused(holidays: list[str], working: list[str], problem: str) -> None:
    with pytest.raises(CalendarError, match=problem):
        CalendarYear.parse(2026, holidays, working)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        CAL.deadline(datetime(2026, 11, 24, 10))


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20)))
def test_the_deadline_is_always_a_working_day_after_the_confirmation(naive: datetime) -> None:
    confirmed = naive.replace(tzinfo=BEIJING)
    deadline, day = CAL.deadline(confirmed)
    assert CAL.is_working_day(day) and day > confirmed.date()
    # no working day lies strictly between the confirmation day and the due day
    between = [confirmed.date() + timedelta(days=n) for n in range(1, (day - confirmed.date()).days)]
    assert not any(CAL.is_working_day(d) for d in between)
    assert deadline - confirmed <= timedelta(days=12)
