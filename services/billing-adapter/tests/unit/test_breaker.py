"""Which answers count towards the BOSS breaker (`domain/breaker.py`): BOSS unwell counts, one subscriber's
trouble does not."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from billing_adapter.domain.breaker import Verdict, verdict
from billing_adapter.domain.outcomes import Classified, Outcome

_ACCOUNTS = st.sampled_from(["18600000004", "18612345001", "18612345002", "18612345003", "18612345004"])
_ANSWERED = st.sampled_from([Outcome.SUCCESS, Outcome.TERMINAL_FAILURE, Outcome.NOT_FOUND])
_BUSY = Classified(Outcome.RETRYABLE, "5001", "BOSS_BUSY", subscriber_scoped=True)


@given(_ANSWERED, _ACCOUNTS, st.sets(_ACCOUNTS), st.booleans())
def test_an_answer_is_healthy_whatever_it_says(outcome: Outcome, account: str, streak: set[str],
                                               probing: bool) -> None:
    assert verdict(Classified(outcome, ""), account, streak, probing=probing) is Verdict.HEALTHY


@given(st.sampled_from([Classified(Outcome.UNKNOWN, "", "BOSS_NO_ANSWER"),
                        Classified(Outcome.RETRYABLE, "", "BOSS_UNREACHABLE"),
                        Classified(Outcome.RETRYABLE, "503", "BOSS_BUSY"),
                        Classified(Outcome.UNKNOWN, "9999", "BOSS_UNEXPECTED_REPLY")]),
       _ACCOUNTS, st.sets(_ACCOUNTS), st.booleans())
def test_timeouts_unreachable_and_proxy_errors_always_count(result: Classified, account: str, streak: set[str],
                                                            probing: bool) -> None:
    assert verdict(result, account, streak, probing=probing) is Verdict.UNWELL


@given(st.lists(st.tuples(_ACCOUNTS, st.booleans()), max_size=200))
def test_busy_answers_count_once_per_subscriber_in_a_streak(answers: list[tuple[str, bool]]) -> None:
    """Fed through a consecutive-failure counter (as the breaker is), busy answers never count more than the
    distinct subscribers they are about since the last healthy answer."""
    streak: set[str] = set()
    count = 0
    for account, busy in answers:
        reading = verdict(_BUSY if busy else Classified(Outcome.SUCCESS, "0000"), account, streak)
        if reading is Verdict.HEALTHY:
            streak.clear()
            count = 0
        elif reading is Verdict.UNWELL:
            streak.add(account)
            count += 1
        assert count == len(streak)


def test_while_probing_even_a_subscriber_seen_busy_counts() -> None:
    assert verdict(_BUSY, "18600000004", {"18600000004"}) is Verdict.NEUTRAL
    assert verdict(_BUSY, "18600000004", {"18600000004"}, probing=True) is Verdict.UNWELL
    assert verdict(_BUSY, "18600000004", set()) is Verdict.UNWELL  # the first time: it may be BOSS
