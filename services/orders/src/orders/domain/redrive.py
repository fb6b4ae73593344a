"""The watchdog's decision (self-healing, DESIGN.md invariant 7): what an order with no progress waits for, and
so what to ask for again. Pure; `OrdersService.redrive_stalled` is its driver.

Events can be lost (the embedded broker is memory-only: restarted, it is empty). An order whose next step is
another service's and that made no progress for a while has that step asked for again: every consumer is
idempotent, and the service that already took the step announces again how it ended, so asking again is always
safe and heals a lost request as well as a lost outcome.

    PENDING, PROCESSING, UNDER_REVIEW flagged stuck  → FulfilmentRequested again (the BOSS adapter: it fulfils
                                                       an order it never heard of, or announces the outcome
                                                       again; BOSS is idempotent on our transaction id)
    FAILED or REJECTED, paid in money               → RefundRequested (the refund service: it makes the one
                                                       refund if there is none, or announces its settlement
                                                       again)
    anything else                                   → nothing: final, or a person's to decide
"""

from __future__ import annotations

from enum import StrEnum

from orders.domain.state import Status

#: the reason codes the stuck sweeper gives the orders it flags (`STUCK_` + the status they were stuck in)
STUCK_REASONS = frozenset({"STUCK_PENDING", "STUCK_PROCESSING"})


class Ask(StrEnum):
    FULFILMENT = "fulfilment"
    REFUND = "refund"


def ask_again(status: Status, reason_code: str, *, paid_in_money: bool) -> Ask | None:
    """What to ask for again for an order with no progress, or None when it waits for nobody we can ask."""
    if status in (Status.PENDING, Status.PROCESSING):
        return Ask.FULFILMENT
    if status is Status.UNDER_REVIEW and reason_code in STUCK_REASONS:
        return Ask.FULFILMENT  # the sweeper flagged it; it was never BOSS's doubt, the adapter can still end it
    if status in (Status.FAILED, Status.REJECTED) and paid_in_money:
        return Ask.REFUND
    return None
