"""The BOSS gate: which outcomes open the breaker, what happens while it is open, and how it closes."""

from __future__ import annotations

import asyncio

import pytest

from billing_adapter.boss_client import Call
from billing_adapter.domain.outcomes import Classified, Outcome
from billing_adapter.gate import BREAKER_STATE, BossGate, BreakerOpen


def _call(outcome: Outcome) -> Call:
    return Call(Classified(outcome, ""), 1)


async def _through(gate: BossGate, outcome: Outcome) -> Call:
    async def fn() -> Call:
        return _call(outcome)

    return await gate.call("credit", fn)


async def test_unhealthy_outcomes_open_it_and_business_refusals_do_not() -> None:
    gate = BossGate(threshold=3, reset_seconds=60, max_in_flight=4)
    for _ in range(10):  # "subscriber not found" is BOSS answering well
        assert (await _through(gate, Outcome.TERMINAL_FAILURE)).result.outcome is Outcome.TERMINAL_FAILURE
    for outcome in (Outcome.RETRYABLE, Outcome.UNKNOWN, Outcome.RETRYABLE):  # the caller still gets each result
        assert (await _through(gate, outcome)).result.outcome is outcome
    assert BREAKER_STATE._value.get() == 2  # open
    with pytest.raises(BreakerOpen) as err:
        await _through(gate, Outcome.SUCCESS)  # not even tried
    assert 0 < err.value.retry_after <= 60


async def test_a_success_resets_the_count() -> None:
    gate = BossGate(threshold=3, reset_seconds=60, max_in_flight=4)
    for outcome in (Outcome.RETRYABLE, Outcome.RETRYABLE, Outcome.SUCCESS, Outcome.RETRYABLE, Outcome.RETRYABLE):
        await _through(gate, outcome)
    assert (await _through(gate, Outcome.SUCCESS)).result.outcome is Outcome.SUCCESS  # still closed


async def test_after_the_pause_one_trial_decides() -> None:
    gate = BossGate(threshold=2, reset_seconds=0.2, max_in_flight=4)
    for _ in range(2):
        await _through(gate, Outcome.UNKNOWN)
    with pytest.raises(BreakerOpen):
        await _through(gate, Outcome.SUCCESS)
    await asyncio.sleep(0.3)
    await _through(gate, Outcome.RETRYABLE)  # the trial fails: open again at once
    with pytest.raises(BreakerOpen):
        await _through(gate, Outcome.SUCCESS)
    await asyncio.sleep(0.3)
    await _through(gate, Outcome.SUCCESS)  # the trial succeeds: closed
    assert BREAKER_STATE._value.get() == 0
    for _ in range(3):
        await _through(gate, Outcome.SUCCESS)


async def test_calls_in_flight_are_limited() -> None:
    gate = BossGate(threshold=100, reset_seconds=60, max_in_flight=2)
    running = peak = 0

    async def slow() -> Call:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return _call(Outcome.SUCCESS)

    await asyncio.gather(*(gate.call("credit", slow) for _ in range(10)))
    assert peak == 2
