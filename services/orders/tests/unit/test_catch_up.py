"""Words another service may announce twice or out of turn (`catch_up`), and what the watchdog asks for again
(`ask_again`): a repeat changes nothing, a lost FulfilmentStarted does not block the outcome after it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders.domain.errors import IllegalTransition
from orders.domain.redrive import Ask, ask_again
from orders.domain.state import Status, Transition, catch_up, next_status

S, T = Status, Transition
#: the words of the BOSS adapter and the refund service, which a re-drive makes them announce again
WORDS = [T.START_FULFILMENT, T.SUCCEED, T.FAIL, T.OUTCOME_UNKNOWN, T.PARTIALLY_FULFILLED, T.REFUND]


@pytest.mark.parametrize(("current", "word", "steps"), [
    (S.PENDING, T.START_FULFILMENT, [T.START_FULFILMENT]),
    (S.PROCESSING, T.START_FULFILMENT, []),                      # announced again while the job goes on
    (S.SUCCEEDED, T.START_FULFILMENT, []),
    (S.PENDING, T.SUCCEED, [T.START_FULFILMENT, T.SUCCEED]),     # its FulfilmentStarted was lost
    (S.PROCESSING, T.SUCCEED, [T.SUCCEED]),
    (S.SUCCEEDED, T.SUCCEED, []),                                # the outcome announced again
    (S.UNDER_REVIEW, T.SUCCEED, [T.SUCCEED]),                    # flagged stuck: the late word still counts
    (S.PENDING, T.FAIL, [T.FAIL]),
    (S.FAILED, T.FAIL, []),
    (S.REFUNDED, T.FAIL, []),
    (S.PENDING, T.OUTCOME_UNKNOWN, [T.START_FULFILMENT, T.OUTCOME_UNKNOWN]),
    (S.SUCCEEDED, T.OUTCOME_UNKNOWN, []),                        # a person decided already
    (S.UNDER_REVIEW, T.OUTCOME_UNKNOWN, [T.OUTCOME_UNKNOWN]),     # flagged stuck: now BOSS's doubt
    (S.FAILED, T.REFUND, [T.REFUND]),
    (S.REFUNDED, T.REFUND, []),                                  # the settlement announced again
])
def test_a_word_is_applied_once(current: Status, word: Transition, steps: list[Transition]) -> None:
    assert catch_up(current, word, current_reason="STUCK_PROCESSING", reason="BOSS_NO_ANSWER") == steps


def test_the_same_doubt_announced_again_leaves_the_order_under_review_once() -> None:
    assert catch_up(S.UNDER_REVIEW, T.OUTCOME_UNKNOWN, current_reason="BOSS_NO_ANSWER", reason="BOSS_NO_ANSWER") == []


@pytest.mark.parametrize(("current", "word"), [(S.SUCCEEDED, T.FAIL), (S.REFUNDED, T.SUCCEED),
                                               (S.SUCCEEDED, T.REFUND), (S.PENDING, T.REFUND)])
def test_a_word_that_contradicts_the_order_raises(current: Status, word: Transition) -> None:
    with pytest.raises(IllegalTransition):
        catch_up(current, word)


@given(st.sampled_from(list(Status)), st.sampled_from(WORDS), st.integers(min_value=2, max_value=5))
def test_a_word_announced_again_and_again_changes_nothing_after_the_first(
        current: Status, word: Transition, times: int) -> None:
    try:
        steps = catch_up(current, word, current_reason="BEFORE", reason="WORD")
    except IllegalTransition:
        return
    for step in steps:
        current = next_status(current, step)
    reason_now = "WORD" if steps else "BEFORE"  # a transition leaves the word's reason on the order
    for _ in range(times - 1):
        assert catch_up(current, word, current_reason=reason_now, reason="WORD") == []


@pytest.mark.parametrize(("status", "reason", "paid", "ask"), [
    (S.PENDING, "", True, Ask.FULFILMENT),
    (S.PROCESSING, "", False, Ask.FULFILMENT),
    (S.UNDER_REVIEW, "STUCK_PROCESSING", True, Ask.FULFILMENT),
    (S.UNDER_REVIEW, "BOSS_NO_ANSWER", True, None),              # BOSS's doubt: a person decides
    (S.UNDER_REVIEW, "RISK_REVIEW", True, None),                 # held by risk: never sent to BOSS
    (S.FAILED, "BOSS_SUBSCRIBER_NOT_FOUND", True, Ask.REFUND),
    (S.REJECTED, "RISK_DENIED", True, Ask.REFUND),
    (S.FAILED, "BOSS_SUBSCRIBER_NOT_FOUND", False, None),        # a voucher: its card went back, no money
    (S.SUCCEEDED, "", True, None),
    (S.REFUNDED, "", True, None),
])
def test_what_the_watchdog_asks_for_again(status: Status, reason: str, paid: bool, ask: Ask | None) -> None:
    assert ask_again(status, reason, paid_in_money=paid) is ask
