"""The order state machine: its table, and properties over any sequence of transitions (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.domain.errors import IllegalTransition
from orders.domain.state import FINAL, NEW, TABLE, Status, Transition, next_status


def test_final_statuses_are_succeeded_and_refunded() -> None:
    assert frozenset({Status.SUCCEEDED, Status.REFUNDED}) == FINAL


def test_every_status_is_reachable_from_new() -> None:
    reached: set[Status | None] = {NEW}
    frontier: set[Status | None] = {NEW}
    while frontier:
        frontier = {target for sources, target in TABLE.values() if sources & frontier} - reached
        reached |= frontier
    assert reached - {NEW} == set(Status)


def test_happy_path() -> None:
    status = next_status(None, Transition.ACCEPT)
    status = next_status(status, Transition.START_FULFILMENT)
    assert next_status(status, Transition.SUCCEED) is Status.SUCCEEDED


@pytest.mark.parametrize(
    ("current", "transition"),
    [
        (Status.SUCCEEDED, Transition.FAIL),
        (Status.REFUNDED, Transition.REFUND),
        (Status.PENDING, Transition.SUCCEED),
        (None, Transition.SUCCEED),
        (Status.PROCESSING, Transition.ACCEPT),
        (Status.UNDER_REVIEW, Transition.ACCEPT),
        (Status.REJECTED, Transition.APPROVE),
        (Status.FAILED, Transition.CONFIRM_NOT_CREDITED),
    ],
)
def test_illegal_transition_raises(current: Status | None, transition: Transition) -> None:
    with pytest.raises(IllegalTransition) as err:
        next_status(current, transition)
    assert err.value.code == "ILLEGAL_TRANSITION"


@given(st.lists(st.sampled_from(list(Transition)), max_size=40))
def test_any_sequence_leaves_a_legal_status_and_finals_never_change(transitions: list[Transition]) -> None:
    status: Status | None = None
    for transition in transitions:
        sources, target = TABLE[transition]
        try:
            new = next_status(status, transition)
        except IllegalTransition:
            assert status not in sources  # refused exactly when the table does not allow it
            continue
        assert status in sources and new is target
        assert status not in FINAL  # nothing ever leaves a final status
        status = new
    assert status is None or status in set(Status)


def test_credited_and_refunded_are_mutually_exclusive_ends() -> None:
    # No path leads out of SUCCEEDED (so never also refunded) nor out of REFUNDED (so never also credited).
    for sources, _ in TABLE.values():
        assert Status.SUCCEEDED not in sources
        assert Status.REFUNDED not in sources


def test_a_late_word_from_boss_moves_an_order_flagged_as_stuck() -> None:
    flagged = next_status(Status.PROCESSING, Transition.FLAG_STUCK)
    assert next_status(flagged, Transition.SUCCEED) is Status.SUCCEEDED
    assert next_status(flagged, Transition.FAIL) is Status.FAILED
    assert next_status(next_status(Status.PENDING, Transition.FLAG_STUCK), Transition.START_FULFILMENT) \
        is Status.PROCESSING
