"""The refund service's metrics (the dashboards and alerts in deploy/ read them)."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from prometheus_client import Counter, Gauge

from topup_platform.logging import get_logger

log = get_logger(__name__)

DUE_SOON = Gauge("topup_refunds_due_soon", "Refunds not settled whose deadline is within the due-soon window")
DEADLINE_BREACHES = Counter("topup_refunds_deadline_breaches",
                            "Refunds that passed their 1-working-day deadline unsettled (each counted once)")
REVIEW_QUEUE = Gauge("topup_review_queue_size", "Review cases not resolved")
OLDEST_CASE_AGE = Gauge("topup_review_oldest_case_age_seconds", "Age of the oldest review case not resolved")
REFUSED = Counter("topup_refunds_refused",
                  "Refunds not made: they would have paid back more than their payment paid (a case for a person)",
                  ["reason_code"])
REANNOUNCED = Counter("topup_refunds_settlements_reannounced",
                      "Settlements announced again because their order's refund was asked for again")
LEDGER_DIFFERENCES = Counter("topup_refunds_ledger_differences",
                             "Refunds settled at the provider whose order was not REFUNDED (announced again)")
PROVIDER_CALLS = Counter("topup_refund_provider_calls", "Calls to payment providers by kind and outcome",
                         ["provider", "kind", "outcome"])


def count_breach(refund: asyncpg.Record, now: datetime, *, settled: bool) -> None:
    """One refund missed its deadline: the counter, and a log line naming it."""
    DEADLINE_BREACHES.inc()
    log.error("refund deadline breached", refund_id=str(refund["refund_id"]), order_id=str(refund["order_id"]),
              channel_id=refund["channel_id"], status=refund["status"], amount_fen=refund["amount_fen"],
              deadline_at=refund["deadline_at"].isoformat(),
              overdue_seconds=int((now - refund["deadline_at"]).total_seconds()), settled_late=settled)
