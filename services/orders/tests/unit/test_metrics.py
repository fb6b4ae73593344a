"""The order metrics count each order once, by its outcome, and time the credits from acceptance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from prometheus_client import REGISTRY

from orders import metrics
from orders.domain.models import StatusChange
from orders.domain.state import FINAL, TABLE, Status, Transition, next_status

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def change(transition: Transition, src: Status | None, after_s: float) -> StatusChange:
    return StatusChange(src, next_status(src, transition), transition, "", "", "service", "t",
                        T0 + timedelta(seconds=after_s))


def order(channel: str) -> Any:
    return SimpleNamespace(channel_id=channel, sku="CREDIT_50", created_at=T0)


def count(channel: str, status: str, sku: str = "CREDIT_50") -> float:
    return REGISTRY.get_sample_value("topup_orders_total", {"channel": channel, "sku": sku, "status": status}) or 0.0


def arrival(channel: str, suffix: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"topup_order_arrival_seconds{suffix}", {"channel": channel, **labels}) or 0.0


S, T = Status, Transition

#: every way an order can go, as transitions (each from the status the previous one led to)
PATHS = {
    "credited": [T.ACCEPT, T.START_FULFILMENT, T.SUCCEED],
    "refused by BOSS, refunded, found credited later": [T.ACCEPT, T.START_FULFILMENT, T.FAIL, T.REFUND],
    "rejected at intake, refunded": [T.REJECT, T.REFUND],
    "held, approved, credited": [T.HOLD_FOR_REVIEW, T.APPROVE, T.START_FULFILMENT, T.SUCCEED],
    "held, rejected": [T.HOLD_FOR_REVIEW, T.REJECT_HELD],
    "unknown, answered late": [T.ACCEPT, T.START_FULFILMENT, T.OUTCOME_UNKNOWN, T.SUCCEED],
    "unknown, confirmed credited": [T.ACCEPT, T.START_FULFILMENT, T.OUTCOME_UNKNOWN, T.CONFIRM_CREDITED],
    "stuck, confirmed not credited, refunded": [T.ACCEPT, T.FLAG_STUCK, T.CONFIRM_NOT_CREDITED, T.REFUND],
    "failed, reconciled credited": [T.ACCEPT, T.START_FULFILMENT, T.FAIL, T.RECONCILE_CREDITED],
}


def walk(channel: str, path: list[Transition]) -> Status:
    o, status = order(channel), None
    for n, transition in enumerate(path):
        c = change(transition, status, n)
        metrics.observe([(o, c)])
        status = c.to_status
    assert status is not None
    return status


def test_every_path_counts_its_order_exactly_once() -> None:
    for n, (name, path) in enumerate(PATHS.items()):
        channel = f"unit-path-{n}"
        walk(channel, path)
        counted = {s.value: count(channel, s.value) for s in Status if count(channel, s.value)}
        assert sum(counted.values()) == 1, (name, counted)


def test_the_outcome_counted_is_the_deciding_one() -> None:
    walk("unit-a", PATHS["refused by BOSS, refunded, found credited later"])
    walk("unit-a", PATHS["held, rejected"])
    walk("unit-a", PATHS["unknown, confirmed credited"])
    assert {s: count("unit-a", s) for s in ("SUCCEEDED", "FAILED", "REJECTED", "REFUNDED", "UNDER_REVIEW")} == {
        "SUCCEEDED": 1, "FAILED": 1, "REJECTED": 1, "REFUNDED": 0, "UNDER_REVIEW": 0}


def test_arrival_is_from_acceptance_to_the_credit_its_fulfilment_reports() -> None:
    fast, slow, confirmed = order("unit-c"), order("unit-c"), order("unit-c")
    metrics.observe([(fast, change(T.SUCCEED, S.PROCESSING, 4))])
    metrics.observe([(slow, change(T.SUCCEED, S.PROCESSING, 45))])
    metrics.observe([(confirmed, change(T.CONFIRM_CREDITED, S.UNDER_REVIEW, 600))])  # when BOSS credited: unknown
    assert arrival("unit-c", "_count") == 2
    assert arrival("unit-c", "_sum") == 49
    assert arrival("unit-c", "_bucket", le="10.0") == 1  # the document's 10 s target: one of two made it


def test_no_walk_through_the_state_machine_is_decided_twice_and_every_final_one_is_decided() -> None:
    """Over every sequence of legal transitions (up to 8 long): at most one deciding transition, and exactly
    one when the order rests in a final status."""
    def walks(status: Status | None, path: tuple[Transition, ...]) -> list[tuple[Transition, ...]]:
        out = [path]
        if len(path) < 8:
            for transition, (sources, target) in TABLE.items():
                if status in sources:
                    out += walks(target, (*path, transition))
        return out

    every = walks(None, ())
    assert len(every) > 100
    for path in every:
        decided = [t for t in path if t in metrics.DECIDING]
        assert len(decided) <= 1, path
        final = path and TABLE[path[-1]][1] in FINAL
        assert not final or len(decided) == 1, path


def test_outcomes_inside_a_transaction_count_only_once_it_commits() -> None:
    committed, rolled_back = order("unit-d"), order("unit-d")
    with metrics.deferred() as count:
        metrics.observe([(committed, change(T.SUCCEED, S.PROCESSING, 3))])
        assert count_of("unit-d") == 0  # written, not yet committed
    count()
    assert count_of("unit-d") == 1
    try:
        with metrics.deferred() as count:
            metrics.observe([(rolled_back, change(T.SUCCEED, S.PROCESSING, 3))])
            raise RuntimeError("the handler failed after the write: the transaction rolls back")
    except RuntimeError:
        pass  # the caller never reaches count(): a poll replayed one by one counts its orders once, not twice
    assert count_of("unit-d") == 1
    metrics.observe([(rolled_back, change(T.SUCCEED, S.PROCESSING, 3))])  # outside any transaction: at once
    assert count_of("unit-d") == 2


def count_of(channel: str) -> float:
    return count(channel, "SUCCEEDED")
