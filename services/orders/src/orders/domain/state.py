"""The order state machine: one readable transition table.

Statuses are the ones channels see. Every transition has a name; `next_status` raises
`IllegalTransition` for a move the table does not list (it never silently does nothing).

    (new) ──accept──────────▶ PENDING ──start_fulfilment──▶ PROCESSING ──succeed──▶ SUCCEEDED
    (new) ──hold_for_review─▶ UNDER_REVIEW                  PROCESSING ──fail─────▶ FAILED ──refund──▶ REFUNDED
    (new) ──reject──────────▶ REJECTED ──refund──▶ REFUNDED  PROCESSING ──outcome_unknown──▶ UNDER_REVIEW
                                                             PROCESSING ──partially_fulfilled──▶ UNDER_REVIEW
    UNDER_REVIEW ──approve──▶ PENDING      UNDER_REVIEW ──confirm_credited──▶ SUCCEEDED
    UNDER_REVIEW ──reject_held──▶ REJECTED UNDER_REVIEW ──confirm_not_credited──▶ FAILED
    PENDING|PROCESSING ──flag_stuck──▶ UNDER_REVIEW (the 30-minute sweeper)
    UNDER_REVIEW ──start_fulfilment|succeed|fail|outcome_unknown|partially_fulfilled──▶ as from PENDING/PROCESSING:
        the BOSS adapter's late word on an order the sweeper flagged (it was slow, not lost). The desk stops
        the adapter before a person decides such an order, so a late word never follows a person's decision.
    FAILED ──reconcile_credited──▶ SUCCEEDED (BOSS did credit after all; the refund is cancelled)

SUCCEEDED and REFUNDED are final: nothing leaves them.

Another service's word may come twice or out of turn: a lost event is asked for again (the watchdog), and the
service that owns the step then announces its outcome again (`catch_up`). Such a word about a step the order
has already taken changes nothing; an outcome that finds the order still PENDING (its FulfilmentStarted was
lost) starts the fulfilment first.
"""

from __future__ import annotations

from enum import StrEnum

from orders.domain.errors import IllegalTransition


class Status(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"
    UNDER_REVIEW = "UNDER_REVIEW"
    REJECTED = "REJECTED"


class Transition(StrEnum):
    ACCEPT = "accept"
    HOLD_FOR_REVIEW = "hold_for_review"
    REJECT = "reject"
    START_FULFILMENT = "start_fulfilment"
    SUCCEED = "succeed"
    FAIL = "fail"
    OUTCOME_UNKNOWN = "outcome_unknown"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FLAG_STUCK = "flag_stuck"
    APPROVE = "approve"
    REJECT_HELD = "reject_held"
    CONFIRM_CREDITED = "confirm_credited"
    CONFIRM_NOT_CREDITED = "confirm_not_credited"
    REFUND = "refund"
    RECONCILE_CREDITED = "reconcile_credited"


NEW = None  # the "status" of an order that does not exist yet

S = Status
T = Transition

#: transition -> (the statuses it may start from, the status it leads to)
TABLE: dict[Transition, tuple[frozenset[Status | None], Status]] = {
    T.ACCEPT:               (frozenset({NEW}), S.PENDING),
    T.HOLD_FOR_REVIEW:      (frozenset({NEW}), S.UNDER_REVIEW),
    T.REJECT:               (frozenset({NEW}), S.REJECTED),
    T.START_FULFILMENT:     (frozenset({S.PENDING, S.UNDER_REVIEW}), S.PROCESSING),
    T.SUCCEED:              (frozenset({S.PROCESSING, S.UNDER_REVIEW}), S.SUCCEEDED),
    T.FAIL:                 (frozenset({S.PENDING, S.PROCESSING, S.UNDER_REVIEW}), S.FAILED),
    T.OUTCOME_UNKNOWN:      (frozenset({S.PROCESSING, S.UNDER_REVIEW}), S.UNDER_REVIEW),
    T.PARTIALLY_FULFILLED:  (frozenset({S.PROCESSING, S.UNDER_REVIEW}), S.UNDER_REVIEW),
    T.FLAG_STUCK:           (frozenset({S.PENDING, S.PROCESSING}), S.UNDER_REVIEW),
    T.APPROVE:              (frozenset({S.UNDER_REVIEW}), S.PENDING),
    T.REJECT_HELD:          (frozenset({S.UNDER_REVIEW}), S.REJECTED),
    T.CONFIRM_CREDITED:     (frozenset({S.UNDER_REVIEW}), S.SUCCEEDED),
    T.CONFIRM_NOT_CREDITED: (frozenset({S.UNDER_REVIEW}), S.FAILED),
    T.REFUND:               (frozenset({S.FAILED, S.REJECTED}), S.REFUNDED),
    T.RECONCILE_CREDITED:   (frozenset({S.FAILED}), S.SUCCEEDED),
}

FINAL: frozenset[Status] = frozenset(
    s for s in Status if not any(s in sources for sources, _ in TABLE.values())
)


def next_status(current: Status | None, transition: Transition) -> Status:
    sources, target = TABLE[transition]
    if current not in sources:
        raise IllegalTransition(
            f"transition {transition.value!r} is not allowed from {current.value if current else 'new'}",
            transition=transition.value,
            status=current.value if current else "",
        )
    return target


#: where an order already is when a word asking for the transition comes again (announced once more)
_ALREADY = {
    T.START_FULFILMENT: frozenset({S.PROCESSING, S.SUCCEEDED, S.FAILED, S.REFUNDED}),
    T.SUCCEED: frozenset({S.SUCCEEDED}),
    T.FAIL: frozenset({S.FAILED, S.REFUNDED}),
    # a person decided already, or the order went on: the BOSS adapter's old word about its doubt changes nothing
    T.OUTCOME_UNKNOWN: frozenset({S.SUCCEEDED, S.FAILED, S.REFUNDED}),
    T.PARTIALLY_FULFILLED: frozenset({S.SUCCEEDED, S.FAILED, S.REFUNDED}),
    T.REFUND: frozenset({S.REFUNDED}),
}


#: words that leave an order UNDER_REVIEW for a reason: the same word again finds it there for that reason
_TO_REVIEW = frozenset({T.OUTCOME_UNKNOWN, T.PARTIALLY_FULFILLED})


def catch_up(current: Status, transition: Transition, *, current_reason: str = "",
             reason: str = "") -> list[Transition]:
    """The transitions that apply another service's word asking for `transition` (for `reason`), when that word
    may be a repeat or come out of turn: none when the order is already there (or past it; UNDER_REVIEW for the
    same reason), the start of the fulfilment first when an outcome finds the order still PENDING, else the
    transition itself. A word that contradicts where the order is raises `IllegalTransition`, as any illegal move
    does (for a person to see)."""
    if current in _ALREADY.get(transition, frozenset()):
        return []
    if transition in _TO_REVIEW and current is S.UNDER_REVIEW and current_reason == reason:
        return []
    sources, _ = TABLE[transition]
    if current not in sources and current is S.PENDING and S.PROCESSING in sources:
        return [T.START_FULFILMENT, transition]
    next_status(current, transition)  # raises if it cannot apply
    return [transition]
