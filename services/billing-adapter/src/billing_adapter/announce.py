"""What the adapter says again about a job when its request comes again.

The order core asks again for the fulfilment of an order that made no progress (its watchdog): the request or
the answer may have been lost with the broker's messages. A job that exists is never started twice (BOSS is
idempotent on our transaction ids anyway); the adapter announces again where the job is, with a new event
that says the same as the first:

    in progress   → FulfilmentStarted             (the job goes on by itself: its lease, its schedule)
    succeeded     → FulfilmentSucceeded           (or ReconciliationRepaired, when reconciliation settled it)
    failed        → FulfilmentFailed              (partially fulfilled when a part was delivered)
    unknown       → FulfilmentOutcomeUnknown      (a person decides)
    cancelled     → nothing                       (the desk stopped it: a person decides)

The order core applies a repeated word as a repeat (`orders.domain.state.catch_up`): it changes nothing twice.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from topup.events.v1 import billing_pb2
from topup_platform.timeutil import to_timestamp

#: the reason code reconciliation leaves on a job it recorded succeeded (BOSS's ledger showed the credit)
RECONCILED = "RECONCILED"


def outcome_again(job: Any, operations: list[Any]) -> Message | None:
    """The event announcing again where `job` (a fulfilments row) is, given its operations (rows, any order)."""
    order_id = str(job["order_id"])
    ops = sorted(operations, key=lambda o: o["seq"])
    delivered = [o["transaction_id"] for o in ops if o["state"] == "succeeded"]
    again = "announced again: the order core asked for the fulfilment of an order it had not heard of"
    match job["state"]:
        case "pending" | "in_progress":
            return billing_pb2.FulfilmentStarted(order_id=order_id, started_at=to_timestamp(job["created_at"]))
        case "succeeded" if job["reason_code"] == RECONCILED:
            return billing_pb2.ReconciliationRepaired(
                order_id=order_id, run_id="", transaction_ids=[o["transaction_id"] for o in ops],
                boss_serials=[o["boss_serial"] for o in ops], at=to_timestamp(job["updated_at"]))
        case "succeeded":
            return billing_pb2.FulfilmentSucceeded(order_id=order_id, attempts=job["attempts"],
                                                   boss_serials=[o["boss_serial"] for o in ops],
                                                   completed_at=to_timestamp(job["updated_at"]))
        case "failed":
            return billing_pb2.FulfilmentFailed(order_id=order_id, attempts=job["attempts"],
                                                reason_code=job["reason_code"], reason=again,
                                                failed_at=to_timestamp(job["updated_at"]),
                                                partially_fulfilled=bool(delivered),
                                                delivered_transaction_ids=delivered)
        case "unknown":
            return billing_pb2.FulfilmentOutcomeUnknown(order_id=order_id, attempts=job["attempts"],
                                                        reason_code=job["reason_code"], reason=again,
                                                        at=to_timestamp(job["updated_at"]))
    return None  # cancelled: the desk stopped it
