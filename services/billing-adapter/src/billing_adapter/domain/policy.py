"""The lifecycle of one BOSS operation (a credit or a data pack), as a pure decision: given what the last step
found, what to do next. No I/O: the worker (`worker.py`) only performs the step this returns.

The retry budget is counted in writes *sent*: every write is counted durably before it is sent (so a restart
or another worker taking the job over never resets the count), and a write the breaker kept back was never
sent, so it is not counted. Once the budget (1 + `retries` writes) is spent, no write is sent again, whatever
happened meanwhile (an open breaker, a restart): the operation is concluded instead, by a final status query
once no write of it can still land at BOSS.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import StrEnum

from billing_adapter.domain.outcomes import Classified, Outcome
from topup_platform.retry import backoff

BUSY_EXHAUSTED = "BOSS_BUSY_RETRIES_EXHAUSTED"
NO_ANSWER_EXHAUSTED = "BOSS_NO_ANSWER_RETRIES_EXHAUSTED"
#: a write stored before write deadlines were (an older adapter): no telling when it could still land
WITHOUT_DEADLINE = "BOSS_WRITE_WITHOUT_DEADLINE"


@dataclass(frozen=True, slots=True)
class Policy:
    #: automatic retries after a retryable answer, on top of the first write (F9)
    retries: int
    backoff_base_seconds: float
    backoff_cap_seconds: float

    @property
    def budget(self) -> int:
        """Writes an operation may send, in all."""
        return 1 + self.retries


class Did(StrEnum):
    """The step whose answer is being fed back."""

    #: nothing yet in this run: the operation is taken up (first time, or again after a wait or a restart)
    RESUME = "resume"
    WRITE = "write"
    #: status queries after an answer that did not say what BOSS did
    ASK = "ask"
    #: the final status query, once the budget is spent and no write can land any more
    CONCLUDE = "conclude"


@dataclass(frozen=True, slots=True)
class State:
    """What the decision needs to remember about one operation."""

    #: writes sent so far (counted durably before each was sent)
    writes: int
    #: set once the budget is spent: the reason the operation fails if BOSS never recorded it
    giving_up: str = ""
    #: the reason code of the unclear answer that is being asked about (a person gets it if asking fails)
    unclear: str = ""


# --- steps -------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Send:
    """Send the write (again: BOSS is idempotent by our transaction id)."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Send it again after `delay` seconds; the job is given up meanwhile, and other jobs go on."""

    delay: float


@dataclass(frozen=True, slots=True)
class Ask:
    """Ask BOSS what became of the write (bounded status queries)."""


@dataclass(frozen=True, slots=True)
class Conclude:
    """The budget is spent: wait until no write sent can land any more, then ask BOSS a last time."""


@dataclass(frozen=True, slots=True)
class Succeed:
    """BOSS did it."""


@dataclass(frozen=True, slots=True)
class Fail:
    """BOSS did not do it, and never will: the order fails (and is refunded)."""

    reason_code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Escalate:
    """Nobody can tell what BOSS did: a person decides."""

    reason_code: str


Step = Send | Wait | Ask | Conclude | Succeed | Fail | Escalate


def giving_up_reason(last_write: Outcome | None) -> str:
    """Why an operation whose budget is spent fails, from the answer to its last write: BOSS said it was busy,
    or it never said anything we could use."""
    return BUSY_EXHAUSTED if last_write is Outcome.RETRYABLE else NO_ANSWER_EXHAUSTED


def resume(writes: int, last_write: Outcome | None, policy: Policy) -> State:
    """The state of an operation taken up from what is stored: the writes counted, and the answer to the last
    one logged (None if none was)."""
    return State(writes, giving_up_reason(last_write) if writes >= policy.budget else "")


def next_step(state: State, did: Did, result: Classified | None, policy: Policy,
              rng: random.Random | None = None) -> tuple[Step, State]:
    """What to do after `did` found `result` (None for RESUME), and the state to carry on with."""
    if did is Did.RESUME or result is None:
        return _conclude(state, state.giving_up) if state.writes >= policy.budget else (Send(), state)
    outcome = result.outcome
    if outcome is Outcome.SUCCESS:
        return Succeed(), state
    if outcome is Outcome.TERMINAL_FAILURE:
        return Fail(result.reason_code, f"BOSS refused: {result.provider_code}"), state
    match did:
        case Did.WRITE if outcome is Outcome.RETRYABLE:  # BOSS did not do it, and says so
            if state.writes >= policy.budget:
                return _conclude(state, BUSY_EXHAUSTED)
            return Wait(backoff(state.writes, base=policy.backoff_base_seconds, cap=policy.backoff_cap_seconds,
                                rng=rng)), state
        case Did.WRITE:  # no answer we can use: never guessed
            return Ask(), replace(state, unclear=result.reason_code or "BOSS_NO_ANSWER")
        case Did.ASK if outcome is Outcome.NOT_FOUND:  # BOSS never got the write (so far)
            if state.giving_up:  # the budget is spent and the last deadline has passed
                if state.unclear == WITHOUT_DEADLINE:  # ...unless it had none: it could still land
                    return Escalate(WITHOUT_DEADLINE), state
                return Fail(state.giving_up, _REASONS[state.giving_up].format(writes=state.writes)), state
            if state.writes >= policy.budget:
                return _conclude(state, NO_ANSWER_EXHAUSTED)
            return Send(), state  # sending it again with the same transaction id is safe
        case Did.ASK:  # the status queries could not tell
            return Escalate(state.unclear or result.reason_code or "BOSS_NO_ANSWER"), state
        case Did.CONCLUDE if outcome is Outcome.NOT_FOUND:
            return Fail(state.giving_up, _REASONS[state.giving_up].format(writes=state.writes)), state
        case _:  # CONCLUDE without a clear answer: ask as after any lost answer
            return Ask(), replace(state, unclear=result.reason_code or "BOSS_NO_ANSWER")


_REASONS = {BUSY_EXHAUSTED: "BOSS busy on all {writes} attempts", NO_ANSWER_EXHAUSTED: "BOSS never recorded the call",
            "": "BOSS never recorded the call"}


def _conclude(state: State, reason: str) -> tuple[Step, State]:
    return Conclude(), replace(state, giving_up=state.giving_up or reason or NO_ANSWER_EXHAUSTED)
