"""A channel's daily statement (对账单), pure: which day, which lines, and the sums of its trailer.

A line is an order of the channel that reached a status the channel is told of by callback (SUCCEEDED, FAILED,
REFUNDED, REJECTED) during the Beijing day, with the last such status it reached that day. History rows are
never changed, so a past day's statement never changes: an order that FAILED on one day and was REFUNDED the
next is FAILED on the first day's statement (nothing paid back yet) and REFUNDED, with its refund, on the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from orders.domain.errors import DateInvalid
from orders.domain.state import Status

BEIJING = timezone(timedelta(hours=8), "CST")

#: the statuses a channel is told of (a callback goes out for each): what a statement reports
STATEMENT_STATUSES: tuple[Status, ...] = (Status.SUCCEEDED, Status.FAILED, Status.REFUNDED, Status.REJECTED)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    start: datetime
    end: datetime
    #: the day has ended: its statement is final
    complete: bool


def statement_day(text: str, now: datetime) -> Day:
    """The Beijing day `text` (YYYY-MM-DD, ASCII digits) names, refused when it is after today in Beijing."""
    if not _DATE.fullmatch(text):
        raise DateInvalid("date must be a day written YYYY-MM-DD (Beijing time)")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise DateInvalid("date is not a calendar day") from None
    today = now.astimezone(BEIJING).date()
    if day > today:
        raise DateInvalid(f"date is after today ({today.isoformat()}, Beijing time)")
    start = datetime.combine(day, time(0), tzinfo=BEIJING)
    end = start + timedelta(days=1)
    return Day(day, start, end, complete=now >= end)


def refund_fen(status: Status, paid_fen: int) -> int:
    """A REFUNDED order gave back exactly what was paid (DESIGN.md section 5); any other status nothing."""
    return paid_fen if status is Status.REFUNDED else 0


@dataclass(slots=True)
class Total:
    count: int = 0
    paid_fen: int = 0
    refund_fen: int = 0

    def add(self, paid: int, refund: int) -> None:
        self.count += 1
        self.paid_fen += paid
        self.refund_fen += refund


@dataclass(slots=True)
class Totals:
    """The trailer: per status, then over every line."""

    by_status: dict[Status, Total] = field(default_factory=lambda: {s: Total() for s in STATEMENT_STATUSES})
    total: Total = field(default_factory=Total)

    def add(self, status: Status, paid: int) -> int:
        """Count one line; returns its refund."""
        refund = refund_fen(status, paid)
        self.by_status[status].add(paid, refund)
        self.total.add(paid, refund)
        return refund
