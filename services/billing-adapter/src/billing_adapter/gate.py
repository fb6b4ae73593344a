"""Every call to BOSS goes through one gate: a circuit breaker (Purgatory) and a limit on calls in flight.

Only signs that BOSS itself is unwell count against the breaker (`domain/breaker.py` says which): unreachable,
no answer in time, a proxy's error, an answer it does not document, and "busy" for many subscribers. A business
refusal (subscriber not found, suspended) is a healthy answer, and so many "busy" answers for one subscriber:
that subscriber's trouble, which its own jobs' backoff and retry budget deal with. After `threshold` unwell
answers in a row the breaker opens: for `reset_seconds` no call is made (`BreakerOpen` is raised at once, the
call is not sent, and the worker makes the order wait, it does not fail it or count an attempt); then one trial
call at a time decides whether it closes again, while the others keep waiting. The breaker's state and the calls
in flight are metrics, and every change of state is logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import HALF_OPENED, OpenedState

from billing_adapter.boss_client import Call
from billing_adapter.domain.breaker import BusyMemory, Verdict, verdict
from topup_platform.logging import get_logger
from topup_platform.metrics import LATENCY_BUCKETS

log = get_logger(__name__)

BOSS_LATENCY = Histogram("topup_boss_request_seconds", "Calls to BOSS by operation and outcome",
                         ["operation", "outcome"], buckets=LATENCY_BUCKETS)
BOSS_RETRIES = Counter("topup_boss_retries_total", "Writes to BOSS retried after a retryable failure")
BREAKER_STATE = Gauge("topup_boss_breaker_state", "The BOSS circuit breaker: 0 closed, 1 half-open, 2 open")
IN_FLIGHT = Gauge("topup_boss_in_flight", "Calls to BOSS in flight")
_STATES = {"closed": 0, "half-opened": 1, "opened": 2}
CIRCUIT = "boss"


class BreakerOpen(Exception):
    """BOSS is being left alone for a while: try again after `retry_after` seconds. Nothing was sent."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"the BOSS circuit breaker is open; retry in {retry_after:.1f} s")
        self.retry_after = retry_after


class _Unwell(Exception):
    """How an unwell answer is reported to the breaker."""


class BossGate:
    def __init__(self, *, threshold: int, reset_seconds: float, max_in_flight: int,
                 trial_wait_seconds: float = 1.0, busy_memory_seconds: float = 60.0) -> None:
        self.reset_seconds = reset_seconds
        #: how long a call waits while another one is the trial that decides whether BOSS is back
        self.trial_wait_seconds = trial_wait_seconds
        self._breakers = AsyncCircuitBreakerFactory(default_threshold=threshold, default_ttl=reset_seconds)
        self._breakers.add_listener(self._on_event)
        self._slots = asyncio.Semaphore(max_in_flight)
        #: the subscribers BOSS said lately it could not serve: more such answers about them are not BOSS unwell
        self._troubled = BusyMemory(busy_memory_seconds)
        self._trial = False
        BREAKER_STATE.set(0)

    def _on_event(self, name: str, event_type: str, event: Any) -> None:
        if event_type == "state_changed":
            state = getattr(event, "state", "")
            BREAKER_STATE.set(_STATES.get(state, 0))
            log_call = log.warning if state == "opened" else log.info
            log_call("BOSS circuit breaker changed state", circuit=name, state=state)

    async def call(self, operation: str, account: str, fn: Callable[[], Awaitable[Call]]) -> Call:
        """Make the call (about `account`) through the breaker and the in-flight limit; raises BreakerOpen
        instead of calling. An exception from `fn` (not an answer from BOSS) tells the breaker nothing."""
        breaker = await self._breakers.get_breaker(CIRCUIT)
        if self._trial:  # a trial is deciding whether BOSS is back: wait for its answer, send nothing
            raise BreakerOpen(self.trial_wait_seconds)
        try:
            await breaker.__aenter__()  # checks the state (and ends a pause that is over): nothing else
        except OpenedState as opened:
            raise BreakerOpen(max(0.1, opened.opened_at + self.reset_seconds - time.time())) from None
        probing = self._trial = breaker.context.state == HALF_OPENED
        started = time.perf_counter()
        try:
            async with self._slots:
                IN_FLIGHT.inc()
                try:
                    call = await fn()
                finally:
                    IN_FLIGHT.dec()
        finally:
            if probing:
                self._trial = False
        now = time.monotonic()
        reading = verdict(call.result, troubled=self._troubled.troubled(account, now), probing=probing)
        if call.result.subscriber_scoped:
            self._troubled.remember(account, now)
        if reading is Verdict.HEALTHY:
            await breaker.__aexit__(None, None, None)
        elif reading is Verdict.UNWELL:
            unwell = _Unwell(call.result.reason_code)
            await breaker.__aexit__(_Unwell, unwell, None)
        BOSS_LATENCY.labels(operation, call.result.outcome.value).observe(time.perf_counter() - started)
        return call
