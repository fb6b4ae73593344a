"""The lifecycle of one BOSS operation (`domain/policy.py`), driven here by a model of the worker: whatever BOSS
answers, and wherever the job is interrupted (an open breaker, a restart, another worker taking it over),
no more than 1 + retries writes are ever sent, and nothing is concluded without an answer that says so."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_adapter.domain.outcomes import Classified, Outcome
from billing_adapter.domain.policy import (
    BUSY_EXHAUSTED,
    NO_ANSWER_EXHAUSTED,
    WITHOUT_DEADLINE,
    Ask,
    Conclude,
    Did,
    Escalate,
    Fail,
    Policy,
    Send,
    State,
    Succeed,
    Wait,
    next_step,
    resume,
)

POLICY = Policy(retries=3, backoff_base_seconds=0.2, backoff_cap_seconds=5.0)

_WRITE_ANSWERS = [Outcome.SUCCESS, Outcome.TERMINAL_FAILURE, Outcome.RETRYABLE, Outcome.UNKNOWN]
_QUERY_ANSWERS = [Outcome.SUCCESS, Outcome.TERMINAL_FAILURE, Outcome.NOT_FOUND, Outcome.UNKNOWN, Outcome.RETRYABLE]
_REASONS = {Outcome.TERMINAL_FAILURE: "BOSS_SUBSCRIBER_SUSPENDED", Outcome.RETRYABLE: "BOSS_BUSY",
            Outcome.UNKNOWN: "BOSS_NO_ANSWER"}


def _answer(outcome: Outcome) -> Classified:
    return Classified(outcome, "2002" if outcome is Outcome.TERMINAL_FAILURE else "", _REASONS.get(outcome, ""))


@dataclass
class Run:
    """What the modelled worker did: the writes it sent (counted before sending, as the repository does), the
    steps taken, and the answer that each step acted on."""

    stored_writes: int = 0
    last_write: Outcome | None = None
    steps: list[tuple[object, Outcome | None, Did]] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    end: Succeed | Fail | Escalate | None = None


def drive(write_answer: st.SearchStrategy[Outcome], query_answer: st.SearchStrategy[Outcome],
          data: st.DataObject, policy: Policy = POLICY, max_interruptions: int = 12) -> Run:
    run = Run()
    state, did, result = resume(0, None, policy), Did.RESUME, None
    interruptions = 0
    for _ in range(200):
        step, state = next_step(state, did, result, policy, random.Random(0))
        run.steps.append((step, result.outcome if result else None, did))
        if isinstance(step, Succeed | Fail | Escalate):
            run.end = step
            return run
        if isinstance(step, Wait) or (interruptions < max_interruptions and data.draw(st.booleans())):
            # given up (a backoff, the breaker, a restart, a lost lease): taken up again from what is stored
            if isinstance(step, Wait):
                run.delays.append(step.delay)
            else:
                interruptions += 1
            state, did, result = resume(run.stored_writes, run.last_write, policy), Did.RESUME, None
            continue
        match step:
            case Send():
                run.stored_writes += 1  # counted durably before it is sent
                state = replace(state, writes=run.stored_writes)
                result, did = _answer(data.draw(write_answer)), Did.WRITE
                run.last_write = result.outcome
            case Ask():
                result, did = _answer(data.draw(query_answer)), Did.ASK
            case Conclude():
                result, did = _answer(data.draw(query_answer)), Did.CONCLUDE
    raise AssertionError(f"no end after 200 steps: {run.steps[-5:]}")


@settings(max_examples=400)
@given(st.data())
def test_never_more_writes_than_the_budget_and_nothing_concluded_without_an_answer(data: st.DataObject) -> None:
    run = drive(st.sampled_from(_WRITE_ANSWERS), st.sampled_from(_QUERY_ANSWERS), data)
    assert run.stored_writes <= POLICY.budget
    assert run.end is not None
    _, answer, did = run.steps[-1]
    match run.end:
        case Succeed():
            assert answer is Outcome.SUCCESS  # only when BOSS said it did it
        case Fail(reason_code=reason):
            if answer is Outcome.TERMINAL_FAILURE:
                assert reason == "BOSS_SUBSCRIBER_SUSPENDED"
            else:  # "never recorded": only from a status query once the budget is spent and no write can land
                assert (answer, reason) in {(Outcome.NOT_FOUND, BUSY_EXHAUSTED), (Outcome.NOT_FOUND,
                                                                                  NO_ANSWER_EXHAUSTED)}
                assert did in (Did.ASK, Did.CONCLUDE)
                assert run.stored_writes == POLICY.budget
                assert any(isinstance(s, Conclude) for s, _, _ in run.steps)
        case Escalate():
            assert answer not in (Outcome.SUCCESS, Outcome.TERMINAL_FAILURE)
    for delay in run.delays:
        assert 0 < delay <= POLICY.backoff_cap_seconds


@settings(max_examples=200)
@given(st.data(), st.integers(min_value=0, max_value=6))
def test_an_always_busy_subscriber_gets_exactly_the_budget_then_fails_busy(data: st.DataObject,
                                                                          retries: int) -> None:
    policy = Policy(retries=retries, backoff_base_seconds=0.01, backoff_cap_seconds=1.0)
    run = drive(st.just(Outcome.RETRYABLE), st.just(Outcome.NOT_FOUND), data, policy)
    assert run.stored_writes == 1 + retries  # however often it was interrupted (the breaker, restarts)
    assert run.end == Fail(BUSY_EXHAUSTED, f"BOSS busy on all {1 + retries} attempts")
    assert len(run.delays) == retries  # a backoff between writes, none after the last


def test_taken_up_with_its_budget_spent_it_is_concluded_not_written_again() -> None:
    for last, reason in ((Outcome.RETRYABLE, BUSY_EXHAUSTED), (Outcome.UNKNOWN, NO_ANSWER_EXHAUSTED),
                         (None, NO_ANSWER_EXHAUSTED)):
        state = resume(POLICY.budget, last, POLICY)
        step, state = next_step(state, Did.RESUME, None, POLICY)
        assert (step, state.giving_up) == (Conclude(), reason)
        step, _ = next_step(state, Did.CONCLUDE, _answer(Outcome.NOT_FOUND), POLICY)
        assert isinstance(step, Fail)
        assert step.reason_code == reason
    assert next_step(resume(POLICY.budget - 1, Outcome.RETRYABLE, POLICY), Did.RESUME, None, POLICY)[0] == Send()


def test_a_late_answer_still_wins_over_the_budget() -> None:
    """The final query finds the write after all (an earlier write's answer was lost, and it landed)."""
    state = resume(POLICY.budget, Outcome.RETRYABLE, POLICY)
    _, state = next_step(state, Did.RESUME, None, POLICY)
    assert next_step(state, Did.CONCLUDE, _answer(Outcome.SUCCESS), POLICY)[0] == Succeed()


def test_an_unclear_answer_is_asked_about_and_never_guessed() -> None:
    step, state = next_step(State(1), Did.WRITE, _answer(Outcome.UNKNOWN), POLICY)
    assert (step, state.unclear) == (Ask(), "BOSS_NO_ANSWER")
    assert next_step(state, Did.ASK, _answer(Outcome.NOT_FOUND), POLICY)[0] == Send()  # same transaction id
    assert next_step(state, Did.ASK, _answer(Outcome.UNKNOWN), POLICY)[0] == Escalate("BOSS_NO_ANSWER")
    assert next_step(state, Did.ASK, _answer(Outcome.RETRYABLE), POLICY)[0] == Escalate("BOSS_NO_ANSWER")


def test_a_write_without_a_deadline_is_never_concluded_unapplied() -> None:
    state = resume(POLICY.budget, Outcome.UNKNOWN, POLICY)
    _, state = next_step(state, Did.RESUME, None, POLICY)
    step, state = next_step(state, Did.CONCLUDE, Classified(Outcome.UNKNOWN, "", WITHOUT_DEADLINE), POLICY)
    assert step == Ask()
    assert next_step(state, Did.ASK, _answer(Outcome.NOT_FOUND), POLICY)[0] == Escalate(WITHOUT_DEADLINE)
