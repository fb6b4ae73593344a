"""Which answers count towards the BOSS breaker (`domain/breaker.py`): BOSS unwell counts, one subscriber's
trouble does not."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from billing_adapter.domain.breaker import BusyMemory, Verdict, verdict
from billing_adapter.domain.outcomes import Classified, Outcome

_ACCOUNTS = st.sampled_from(["18600000004", "18612345001", "18612345002", "18612345003", "18612345004"])
_ANSWERED = st.sampled_from([Outcome.SUCCESS, Outcome.TERMINAL_FAILURE, Outcome.NOT_FOUND])
_BUSY = Classified(Outcome.RETRYABLE, "5001", "BOSS_BUSY", subscriber_scoped=True)


@given(_ANSWERED, st.booleans(), st.booleans())
def test_an_answer_is_healthy_whatever_it_says(outcome: Outcome, troubled: bool, probing: bool) -> None:
    assert verdict(Classified(outcome, ""), troubled=troubled, probing=probing) is Verdict.HEALTHY


@given(st.sampled_from([Classified(Outcome.UNKNOWN, "", "BOSS_NO_ANSWER"),
                        Classified(Outcome.RETRYABLE, "", "BOSS_UNREACHABLE"),
                        Classified(Outcome.RETRYABLE, "503", "BOSS_BUSY"),
                        Classified(Outcome.UNKNOWN, "9999", "BOSS_UNEXPECTED_REPLY")]),
       st.booleans(), st.booleans())
def test_timeouts_unreachable_and_proxy_errors_always_count(result: Classified, troubled: bool,
                                                            probing: bool) -> None:
    assert verdict(result, troubled=troubled, probing=probing) is Verdict.UNWELL


def test_a_busy_answer_counts_unless_that_subscriber_was_busy_lately() -> None:
    assert verdict(_BUSY, troubled=False) is Verdict.UNWELL  # the first time: it may be BOSS
    assert verdict(_BUSY, troubled=True) is Verdict.NEUTRAL


def test_while_probing_even_a_subscriber_seen_busy_counts() -> None:
    assert verdict(_BUSY, troubled=True, probing=True) is Verdict.UNWELL


@given(st.lists(st.tuples(_ACCOUNTS, st.booleans(), st.floats(0, 5)), max_size=200))
def test_busy_answers_count_once_per_subscriber_per_memory(answers: list[tuple[str, bool, float]]) -> None:
    """Fed through the gate's bookkeeping, in any interleaving with healthy answers about others, a subscriber's
    busy answers count towards the breaker at most once per memory span (here 10 s)."""
    memory, now = BusyMemory(10.0), 0.0
    counted: dict[str, list[float]] = {}
    for account, busy, step in answers:
        now += step
        result = _BUSY if busy else Classified(Outcome.SUCCESS, "0000")
        reading = verdict(result, troubled=memory.troubled(account, now))
        if result.subscriber_scoped:
            memory.remember(account, now)
        if reading is Verdict.UNWELL:
            counted.setdefault(account, []).append(now)
    for times in counted.values():  # a subscriber counts again only after a quiet span longer than the memory
        assert all(later - earlier > 10.0 for earlier, later in pairwise(times))


def test_the_memory_forgets_after_its_span_and_past_its_limit() -> None:
    memory = BusyMemory(10.0, limit=2)
    memory.remember("18612345001", 0.0)
    assert memory.troubled("18612345001", 10.0)
    assert not memory.troubled("18612345001", 10.5)
    for n, account in enumerate(("18612345001", "18612345002", "18612345003")):
        memory.remember(account, 20.0 + n)
    assert not memory.troubled("18612345001", 23.0)  # the oldest went first
    assert memory.troubled("18612345003", 23.0)
