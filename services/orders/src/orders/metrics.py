"""The order core's business metrics: the document's own table of success rate and arrival time per channel.

Each order is counted once, by its outcome, when the transition that decides it is written: SUCCEEDED
(credited by its fulfilment, or confirmed credited by a person), FAILED (BOSS refused, or a person confirmed
it was not credited) or REJECTED (by risk at intake, or a held order rejected by a person). Orders waiting
(PENDING, PROCESSING, UNDER_REVIEW) have no outcome yet; what follows an outcome (a refund, a reconciliation
that finds a failed order credited after all) is history, not a second order. Arrival time runs from
acceptance (the order's creation) to the credit its fulfilment reports.

The counts are taken when the transition is written, inside its transaction: an attempt whose transaction
rolls back and is retried (a handler failing after the write) is counted again. That is rare and only ever
an over-count of one attempt; the order tables remain the record.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

from orders.domain.models import Order, StatusChange
from orders.domain.state import Transition

ORDERS = Counter("topup_orders", "Orders by channel, SKU and outcome", ["channel", "sku", "status"])
#: the document's target is arrival within 10 s (official app, 99.9 %): 10 is a bucket edge, so the share is exact
ARRIVAL = Histogram("topup_order_arrival_seconds", "From acceptance to credit at BOSS, by channel", ["channel"],
                    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200))

#: the transitions that decide an order's outcome; every order takes exactly one of them, or none yet
DECIDING = frozenset({Transition.REJECT, Transition.REJECT_HELD, Transition.SUCCEED, Transition.FAIL,
                      Transition.CONFIRM_CREDITED, Transition.CONFIRM_NOT_CREDITED})


def observe(changes: Iterable[tuple[Order, StatusChange]]) -> None:
    """Count the orders these changes decide, and time the credits among them."""
    for order, change in changes:
        if change.transition not in DECIDING:
            continue
        ORDERS.labels(order.channel_id, order.sku, change.to_status.value).inc()
        if change.transition is Transition.SUCCEED:
            ARRIVAL.labels(order.channel_id).observe(max((change.at - order.created_at).total_seconds(), 0.0))
