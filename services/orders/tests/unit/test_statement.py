"""The statement's day (Beijing), what it refuses, and its trailer's sums."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.domain.errors import DateInvalid
from orders.domain.state import Status
from orders.domain.statement import BEIJING, STATEMENT_STATUSES, Totals, statement_day

NOW = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)  # 09:00 on the 8th in Beijing


def test_a_day_is_beijing_midnight_to_midnight() -> None:
    day = statement_day("2026-12-07", NOW)
    assert (day.start, day.end) == (datetime(2026, 12, 7, tzinfo=BEIJING), datetime(2026, 12, 8, tzinfo=BEIJING))
    assert day.start.astimezone(UTC) == datetime(2026, 12, 6, 16, tzinfo=UTC)
    assert day.complete
    today = statement_day("2026-12-08", NOW)
    assert not today.complete
    # 23:30 UTC on the 7th is already the 8th in Beijing: "today" follows Beijing, not UTC
    assert not statement_day("2026-12-08", datetime(2026, 12, 7, 23, 30, tzinfo=UTC)).complete


@pytest.mark.parametrize("text", ["", "2026-12-09", "2026-13-01", "2026-02-30", "2026-1-05", "20261205",
                                  "２０２６-１２-０５", "2026-12-05\n", " 2026-12-05", "2026-12-05T00:00"])
def test_refused(text: str) -> None:
    with pytest.raises(DateInvalid):
        statement_day(text, NOW)


@given(st.lists(st.tuples(st.sampled_from(STATEMENT_STATUSES), st.integers(0, 50_000)), max_size=50))
def test_the_trailer_is_the_sum_of_the_lines(lines: list[tuple[Status, int]]) -> None:
    totals = Totals()
    refunds = [totals.add(status, paid) for status, paid in lines]
    assert refunds == [paid if status is Status.REFUNDED else 0 for status, paid in lines]
    assert totals.total.count == len(lines) == sum(t.count for t in totals.by_status.values())
    assert totals.total.paid_fen == sum(p for _, p in lines) == sum(t.paid_fen for t in totals.by_status.values())
    assert totals.total.refund_fen == totals.by_status[Status.REFUNDED].paid_fen == sum(refunds)


def test_the_partial_index_names_the_statement_statuses() -> None:
    """The statement's query names its statuses literally, so that the planner can use the partial index whose
    predicate names the same ones."""
    from pathlib import Path

    from orders import repository

    sql = (Path(repository.__file__).parent / "migrations" / "0006_statements.sql").read_text()
    predicate = sql.split("WHERE", 1)[1]
    assert sorted(re.findall(r"'([A-Z_]+)'", predicate)) == sorted(s.value for s in STATEMENT_STATUSES)
    assert repository._STATEMENT_STATUSES in repository._STATEMENT
