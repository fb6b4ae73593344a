"""The order core's business metrics: the document's own table of success rate and arrival time per channel.

Each order is counted once, by its outcome, when the transition that decides it is written: SUCCEEDED
(credited by its fulfilment, or confirmed credited by a person), FAILED (BOSS refused, or a person confirmed
it was not credited) or REJECTED (by risk at intake, or a held order rejected by a person). Orders waiting
(PENDING, PROCESSING, UNDER_REVIEW) have no outcome yet; what follows an outcome (a refund, a reconciliation
that finds a failed order credited after all) is history, not a second order. Arrival time runs from
acceptance (the order's creation) to the credit its fulfilment reports.

Counts are taken once the transaction that wrote the transition commits: whoever owns that transaction opens
`deferred()` around the work and calls what it yields after the commit (an event handler hands it to
`ctx.after_commit`). A transaction that rolls back (a poll applied one by one after all, a retried handler)
counts nothing, so every order is counted exactly once. Outside any `deferred()`, outcomes count at once: that
is right for a write that commits by itself (an order created, or refused at intake, in one statement), and
every transaction that can write a deciding transition opens `deferred()` (the consumers of billing and refund
events, the review decisions; the stuck-order sweeper's FLAG_STUCK decides nothing).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar

from prometheus_client import Counter, Histogram

from orders.domain.models import Order, StatusChange
from orders.domain.state import Transition

ORDERS = Counter("topup_orders", "Orders by channel, SKU and outcome", ["channel", "sku", "status"])
#: the document's target is arrival within 10 s (official app, 99.9 %): 10 is a bucket edge, so the share is exact
ARRIVAL = Histogram("topup_order_arrival_seconds", "From acceptance to credit at BOSS, by channel", ["channel"],
                    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200))
#: the watchdog's re-drives (self-healing), by what was asked for again
REDRIVES = Counter("topup_orders_redrives", "Orders without progress whose next step was asked for again",
                   ["asked"])

#: the transitions that decide an order's outcome; every order takes exactly one of them, or none yet
DECIDING = frozenset({Transition.REJECT, Transition.REJECT_HELD, Transition.SUCCEED, Transition.FAIL,
                      Transition.CONFIRM_CREDITED, Transition.CONFIRM_NOT_CREDITED})


_held: ContextVar[list[tuple[Order, StatusChange]] | None] = ContextVar("orders_outcomes_held", default=None)


def observe(changes: Iterable[tuple[Order, StatusChange]]) -> None:
    """Count the orders these changes decide: held for the enclosing `deferred()`, or at once without one."""
    held = _held.get()
    if held is not None:
        held.extend(changes)
    else:
        _count(changes)


@contextlib.contextmanager
def deferred() -> Iterator[Callable[[], None]]:
    """Hold what `observe` sees inside the block; yields the function that counts it (call it after the
    commit, and not at all if the transaction rolled back)."""
    held: list[tuple[Order, StatusChange]] = []
    token = _held.set(held)
    try:
        yield lambda: _count(held)
    finally:
        _held.reset(token)


def _count(changes: Iterable[tuple[Order, StatusChange]]) -> None:
    for order, change in changes:
        if change.transition not in DECIDING:
            continue
        ORDERS.labels(order.channel_id, order.sku, change.to_status.value).inc()
        if change.transition is Transition.SUCCEED:
            ARRIVAL.labels(order.channel_id).observe(max((change.at - order.created_at).total_seconds(), 0.0))
