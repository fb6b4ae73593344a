"""Every call to BOSS goes through one gate: a circuit breaker (Purgatory) and a limit on calls in flight.

Only signs that BOSS itself is unwell count against the breaker: "busy", unreachable, no answer in time.
A business refusal (subscriber not found, suspended) is a healthy answer. After `threshold` such failures
in a row the breaker opens: for `reset_seconds` no call is made (`BreakerOpen` is raised at once, and the
worker makes the order wait, it does not fail it); then one trial call decides whether it closes again.
The breaker's state and the calls in flight are metrics, and every change of state is logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from billing_adapter.boss_client import Call
from billing_adapter.domain.outcomes import Outcome
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
UNHEALTHY = (Outcome.RETRYABLE, Outcome.UNKNOWN)


class BreakerOpen(Exception):
    """BOSS is being left alone for a while: try again after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"the BOSS circuit breaker is open; retry in {retry_after:.1f} s")
        self.retry_after = retry_after


class _Unhealthy(Exception):
    def __init__(self, call: Call) -> None:
        self.call = call


class BossGate:
    def __init__(self, *, threshold: int, reset_seconds: float, max_in_flight: int) -> None:
        self.reset_seconds = reset_seconds
        self._breakers = AsyncCircuitBreakerFactory(default_threshold=threshold, default_ttl=reset_seconds)
        self._breakers.add_listener(self._on_event)
        self._slots = asyncio.Semaphore(max_in_flight)
        BREAKER_STATE.set(0)

    def _on_event(self, name: str, event_type: str, event: Any) -> None:
        if event_type == "state_changed":
            state = getattr(event, "state", "")
            BREAKER_STATE.set(_STATES.get(state, 0))
            log_call = log.warning if state == "opened" else log.info
            log_call("BOSS circuit breaker changed state", circuit=name, state=state)

    async def call(self, operation: str, fn: Callable[[], Awaitable[Call]]) -> Call:
        """Make the call through the breaker and the in-flight limit; raises BreakerOpen instead of calling."""
        breaker = await self._breakers.get_breaker(CIRCUIT)
        started = time.perf_counter()
        try:
            async with breaker:
                async with self._slots:
                    IN_FLIGHT.inc()
                    try:
                        call = await fn()
                    finally:
                        IN_FLIGHT.dec()
                if call.result.outcome in UNHEALTHY:
                    raise _Unhealthy(call)  # counted by the breaker, then given back to the caller
        except _Unhealthy as unhealthy:
            call = unhealthy.call
        except OpenedState as opened:
            raise BreakerOpen(max(0.1, opened.opened_at + self.reset_seconds - time.time())) from None
        BOSS_LATENCY.labels(operation, call.result.outcome.value).observe(time.perf_counter() - started)
        return call
