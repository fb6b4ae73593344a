"""The rules of the manual review desk (人工复核, F10): what a case may be resolved with, who may do it, and
when a second person must agree (four eyes).

    kind                         how it got here                          may be resolved with
    ORDER_UNDER_REVIEW / held    risk REVIEW or a large amount, before     approve (→ fulfilment)
                                 any call to BOSS                          reject_held (→ REJECTED → refund)
    ORDER_UNDER_REVIEW / ambiguous  BOSS's outcome unknown, a combo half    confirm_credited (→ SUCCEEDED)
                                 delivered, or stuck for 30 minutes        confirm_not_credited (→ FAILED → refund)
    REFUND_FAILED / rejected     the provider refused the refund           record_manual_refund (finance paid it
                                                                           back another way; → REFUNDED)
    REFUND_FAILED / exhausted    the provider never answered               retry_refund, record_manual_refund
    REFUND_FAILED / note         the provider refused it as more than      close (with what they did: nothing is
                                 the payment paid                          to be paid back by hand)
    REFUND_REFUSED / note        not made: it would have paid back more    close (with what they did)
                                 than its payment paid
    RECONCILIATION_DISCREPANCY,  something a person must look into        close (with what they did)
    REFUND_AFTER_CREDIT / note

Order decisions are the reviewer's; refund decisions are finance's; admin may do anything. At or above
the four-eyes threshold an action is only proposed, and carried out when a second, different member of
staff (holding a role for the action, or finance) approves it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from topup_platform import identifiers
from topup_platform.errors import FailedPrecondition, PermissionDenied


class CaseKind(StrEnum):
    ORDER_UNDER_REVIEW = "ORDER_UNDER_REVIEW"
    REFUND_FAILED = "REFUND_FAILED"
    RECONCILIATION_DISCREPANCY = "RECONCILIATION_DISCREPANCY"
    REFUND_AFTER_CREDIT = "REFUND_AFTER_CREDIT"
    REFUND_REFUSED = "REFUND_REFUSED"


class Path(StrEnum):
    HELD = "held"
    AMBIGUOUS = "ambiguous"
    REFUND_REJECTED = "refund_rejected"
    REFUND_EXHAUSTED = "refund_exhausted"
    NOTE = "note"


class Action(StrEnum):
    CONFIRM_CREDITED = "confirm_credited"
    CONFIRM_NOT_CREDITED = "confirm_not_credited"
    APPROVE = "approve"
    REJECT_HELD = "reject_held"
    RETRY_REFUND = "retry_refund"
    RECORD_MANUAL_REFUND = "record_manual_refund"
    CLOSE = "close"


REVIEWER, FINANCE, ADMIN = "reviewer", "finance", "admin"

ACTIONS: dict[Path, tuple[Action, ...]] = {
    Path.HELD: (Action.APPROVE, Action.REJECT_HELD),
    Path.AMBIGUOUS: (Action.CONFIRM_CREDITED, Action.CONFIRM_NOT_CREDITED),
    Path.REFUND_REJECTED: (Action.RECORD_MANUAL_REFUND,),
    Path.REFUND_EXHAUSTED: (Action.RETRY_REFUND, Action.RECORD_MANUAL_REFUND),
    Path.NOTE: (Action.CLOSE,),
}

ROLES: dict[Action, frozenset[str]] = {
    Action.CONFIRM_CREDITED: frozenset({REVIEWER}),
    Action.CONFIRM_NOT_CREDITED: frozenset({REVIEWER}),
    Action.APPROVE: frozenset({REVIEWER}),
    Action.REJECT_HELD: frozenset({REVIEWER}),
    Action.RETRY_REFUND: frozenset({FINANCE}),
    Action.RECORD_MANUAL_REFUND: frozenset({FINANCE}),
    Action.CLOSE: frozenset({REVIEWER, FINANCE}),
}

#: the order transition a review decision asks of the order core
ORDER_DECISIONS = frozenset({Action.CONFIRM_CREDITED, Action.CONFIRM_NOT_CREDITED, Action.APPROVE,
                             Action.REJECT_HELD})

#: how an order came to be UNDER_REVIEW → what may resolve it
PATH_OF_TRANSITION = {"hold_for_review": Path.HELD, "outcome_unknown": Path.AMBIGUOUS,
                      "partially_fulfilled": Path.AMBIGUOUS, "flag_stuck": Path.AMBIGUOUS}


#: a refund that would take its payment's refunds past what it paid (ours, or the provider's word)
REFUND_EXCEEDS_PAYMENT = "REFUND_EXCEEDS_PAYMENT"


def path_of_rejection(reason_code: str) -> Path:
    """What may resolve a refund the provider refused: finance pays it back another way, unless the provider
    refused it as more than the payment paid (then the money went back already: paying by hand would pay twice)."""
    return Path.NOTE if reason_code == REFUND_EXCEEDS_PAYMENT else Path.REFUND_REJECTED


def parse_action(name: str) -> Action:
    try:
        return Action(name)
    except ValueError:
        raise FailedPrecondition(f"unknown action {name!r}; one of {', '.join(a.value for a in Action)}",
                                 code="REVIEW_ACTION_NOT_APPLICABLE") from None


def check_action(path: Path, action: Action) -> None:
    if action not in ACTIONS[path]:
        raise FailedPrecondition(
            f"{action.value} does not resolve a case of this kind; it may be resolved with "
            f"{', '.join(a.value for a in ACTIONS[path])}", code="REVIEW_ACTION_NOT_APPLICABLE")


def role_for(action: Action, roles: Iterable[str]) -> str:
    """The role the member of staff acts in for `action`; PermissionDenied if they hold none."""
    held = set(roles)
    if ADMIN in held:
        return ADMIN
    for role in sorted(ROLES[action] & held):
        return role
    raise PermissionDenied(f"{action.value} needs the role {' or '.join(sorted(ROLES[action]))}",
                           code="ADMIN_FORBIDDEN")


def second_signature_role(action: Action, roles: Iterable[str]) -> str:
    """The role a second approver signs in: one that may do the action, or finance."""
    held = set(roles)
    if FINANCE in held and ADMIN not in held and not (ROLES[action] & held):
        return FINANCE
    return role_for(action, held)


def needs_four_eyes(amount_fen: int, threshold_fen: int) -> bool:
    return threshold_fen > 0 and amount_fen >= threshold_fen


def check_second_person(proposer: str, approver: str) -> None:
    if identifiers.same_person(proposer, approver):  # not ==: "Rita" must not approve "rita"'s proposal
        raise PermissionDenied("the second approval must come from another member of staff",
                               code="FOUR_EYES_SAME_PERSON")
