"""The BOSS gate: which outcomes open the breaker, what happens while it is open, and how it closes."""

from __future__ import annotations

import asyncio

import pytest

from billing_adapter.boss_client import Call
from billing_adapter.domain.outcomes import Classified, Outcome
from billing_adapter.gate import BREAKER_STATE, BossGate, BreakerOpen


def _call(outcome: Outcome, *, scoped: bool = False) -> Call:
    return Call(Classified(outcome, "5001" if scoped else "", subscriber_scoped=scoped), 1)


async def _through(gate: BossGate, outcome: Outcome, account: str = "18612345678", *, scoped: bool = False) -> Call:
    async def fn() -> Call:
        return _call(outcome, scoped=scoped)

    return await gate.call("credit", account, fn)


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

    await asyncio.gather(*(gate.call("credit", "18612345678", slow) for _ in range(10)))
    assert peak == 2


async def test_one_busy_subscriber_never_opens_it_busy_answers_for_many_do() -> None:
    gate = BossGate(threshold=3, reset_seconds=60, max_in_flight=4)
    for _ in range(40):  # BOSS answers "busy" for one subscriber, again and again: that subscriber's trouble
        assert (await _through(gate, Outcome.RETRYABLE, "18600000004", scoped=True)).result.outcome is \
            Outcome.RETRYABLE
    assert BREAKER_STATE._value.get() == 0
    assert (await _through(gate, Outcome.SUCCESS)).result.outcome is Outcome.SUCCESS  # others go through
    for account in ("18612345001", "18612345002", "18612345003"):  # busy for several subscribers in a row
        await _through(gate, Outcome.RETRYABLE, account, scoped=True)
    assert BREAKER_STATE._value.get() == 2
    with pytest.raises(BreakerOpen):
        await _through(gate, Outcome.SUCCESS)


async def test_timeouts_count_whichever_subscriber_they_are_about() -> None:
    gate = BossGate(threshold=3, reset_seconds=60, max_in_flight=4)
    for _ in range(3):
        await _through(gate, Outcome.UNKNOWN, "18600000006")
    with pytest.raises(BreakerOpen):
        await _through(gate, Outcome.SUCCESS)


async def test_a_call_that_raises_before_boss_answers_tells_the_breaker_nothing() -> None:
    gate = BossGate(threshold=2, reset_seconds=60, max_in_flight=4)

    async def lost_lease() -> Call:
        raise LookupError("not this worker's job any more: nothing sent")

    for _ in range(5):
        with pytest.raises(LookupError):
            await gate.call("credit", "18612345678", lost_lease)
    assert (await _through(gate, Outcome.SUCCESS)).result.outcome is Outcome.SUCCESS


async def test_one_trial_at_a_time_the_others_wait_unsent() -> None:
    gate = BossGate(threshold=1, reset_seconds=0.1, max_in_flight=10, trial_wait_seconds=0.5)
    await _through(gate, Outcome.UNKNOWN)
    await asyncio.sleep(0.15)
    answer = asyncio.Event()
    sent: list[str] = []

    async def trial() -> Call:
        sent.append("trial")
        await answer.wait()
        return _call(Outcome.SUCCESS)

    async def other() -> Call:
        sent.append("other")
        return _call(Outcome.SUCCESS)

    probing = asyncio.create_task(gate.call("credit", "18612345001", trial))
    await asyncio.sleep(0.01)
    for _ in range(5):
        with pytest.raises(BreakerOpen) as err:
            await gate.call("credit", "18612345002", other)
        assert err.value.retry_after == 0.5
    assert sent == ["trial"]  # nothing else was sent while the trial decides
    answer.set()
    await probing
    assert (await gate.call("credit", "18612345002", other)).result.outcome is Outcome.SUCCESS  # closed
    assert sent == ["trial", "other"]


async def test_while_probing_a_subscriber_busy_for_the_first_time_reopens_it() -> None:
    gate = BossGate(threshold=2, reset_seconds=0.1, max_in_flight=4)
    for account in ("18612345001", "18612345002"):
        await _through(gate, Outcome.RETRYABLE, account, scoped=True)
    await asyncio.sleep(0.15)
    await _through(gate, Outcome.RETRYABLE, "18612345003", scoped=True)  # the trial: busy, and news about BOSS
    with pytest.raises(BreakerOpen):
        await _through(gate, Outcome.SUCCESS)


async def test_while_probing_a_busy_subscriber_seen_before_reopens_it() -> None:
    """BOSS down for everybody: every waiting subscriber has answered busy before, so the trial is about one of
    them; its busy answer reopens the breaker (had it decided nothing, each waiting order would spend its retry
    budget as the next trial)."""
    gate = BossGate(threshold=2, reset_seconds=0.1, max_in_flight=4)
    for account in ("18612345001", "18612345002"):
        await _through(gate, Outcome.RETRYABLE, account, scoped=True)
    await asyncio.sleep(0.15)
    await _through(gate, Outcome.RETRYABLE, "18612345001", scoped=True)  # the trial: still busy
    with pytest.raises(BreakerOpen):
        await _through(gate, Outcome.SUCCESS)


async def test_a_subscriber_busy_long_ago_counts_again() -> None:
    gate = BossGate(threshold=2, reset_seconds=60, max_in_flight=4, busy_memory_seconds=0.1)
    await _through(gate, Outcome.RETRYABLE, "18600000004", scoped=True)
    await asyncio.sleep(0.15)
    await _through(gate, Outcome.RETRYABLE, "18600000004", scoped=True)
    with pytest.raises(BreakerOpen):
        await _through(gate, Outcome.SUCCESS)
