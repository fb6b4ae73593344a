"""What the adapter announces again when a job's request comes again: where the job is, never a new job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from billing_adapter.announce import RECONCILED, outcome_again
from topup.events.v1 import billing_pb2

AT = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


def _job(state: str, reason_code: str = "") -> dict[str, Any]:
    return {"order_id": uuid4(), "state": state, "reason_code": reason_code, "attempts": 2, "created_at": AT,
            "updated_at": AT}


def _op(seq: int, state: str, serial: str = "") -> dict[str, Any]:
    return {"transaction_id": f"t{seq}", "seq": seq, "state": state, "boss_serial": serial}


@pytest.mark.parametrize("state", ["pending", "in_progress"])
def test_a_job_under_way_is_announced_started(state: str) -> None:
    assert isinstance(outcome_again(_job(state), [_op(0, "pending")]), billing_pb2.FulfilmentStarted)


def test_a_success_is_announced_again_with_boss_serials_in_order() -> None:
    job = _job("succeeded")
    event = outcome_again(job, [_op(1, "succeeded", "B2"), _op(0, "succeeded", "B1")])
    assert isinstance(event, billing_pb2.FulfilmentSucceeded)
    assert (event.order_id, list(event.boss_serials), event.attempts) == (str(job["order_id"]), ["B1", "B2"], 2)


def test_a_success_reconciliation_found_is_announced_as_its_repair() -> None:
    event = outcome_again(_job("succeeded", RECONCILED), [_op(0, "succeeded", "B1")])
    assert isinstance(event, billing_pb2.ReconciliationRepaired)
    assert list(event.transaction_ids) == ["t0"]


def test_a_failure_says_what_was_delivered() -> None:
    clean = outcome_again(_job("failed", "BOSS_SUBSCRIBER_NOT_FOUND"), [_op(0, "failed")])
    half = outcome_again(_job("failed", "BOSS_REFUSED"), [_op(0, "succeeded", "B1"), _op(1, "failed")])
    assert isinstance(clean, billing_pb2.FulfilmentFailed) and isinstance(half, billing_pb2.FulfilmentFailed)
    assert (clean.reason_code, clean.partially_fulfilled) == ("BOSS_SUBSCRIBER_NOT_FOUND", False)
    assert (half.partially_fulfilled, list(half.delivered_transaction_ids)) == (True, ["t0"])


def test_an_unknown_outcome_stays_unknown_and_a_cancelled_job_says_nothing() -> None:
    assert isinstance(outcome_again(_job("unknown", "BOSS_NO_ANSWER"), []), billing_pb2.FulfilmentOutcomeUnknown)
    assert outcome_again(_job("cancelled", "STOPPED_BEFORE_FULFILMENT"), []) is None
