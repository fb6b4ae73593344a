"""Which answers say that BOSS itself is unwell (and so count towards opening the circuit breaker). Pure.

* BOSS answered (done, refused for good, no such transaction): healthy.
* Nothing reached BOSS, it did not answer in time, a proxy in front of it failed, or it answered something
  it does not document: unwell, whichever subscriber the call was about.
* BOSS answered, with one of its own codes, that it did not do it ("busy", "too late"): that may be BOSS
  overloaded, or one subscriber BOSS cannot serve now. The first such answer for a subscriber counts as
  unwell; more of them for a subscriber that answered so recently (`BusyMemory`) say nothing new about BOSS
  and do not count (neutral), whatever was answered for others in between: one subscriber's trouble cannot
  open the breaker for everybody, while busy answers for many subscribers still do.
* While the breaker probes (half-open), any unwell answer reopens it, a subscriber's "busy" included: it opened
  because many failed, and when BOSS is down for everybody every waiting subscriber has answered busy before,
  so a trial that decided nothing would let each of them spend its retry budget one by one.
"""

from __future__ import annotations

from collections import OrderedDict
from enum import StrEnum

from billing_adapter.domain.outcomes import Classified, Outcome


class Verdict(StrEnum):
    #: BOSS answered: the streak of failures ends (and a probing breaker closes)
    HEALTHY = "healthy"
    #: counts towards opening the breaker (and reopens a probing one)
    UNWELL = "unwell"
    #: says nothing new about BOSS: leaves the breaker as it is
    NEUTRAL = "neutral"


_ANSWERED = frozenset({Outcome.SUCCESS, Outcome.TERMINAL_FAILURE, Outcome.NOT_FOUND})


def verdict(result: Classified, *, troubled: bool, probing: bool = False) -> Verdict:
    """The breaker's reading of one answer; `troubled`: BOSS said it could not serve this answer's subscriber
    recently (see `BusyMemory`); `probing`: the breaker is half-open and this answer is its trial."""
    if result.outcome in _ANSWERED:
        return Verdict.HEALTHY
    if result.subscriber_scoped and troubled and not probing:
        return Verdict.NEUTRAL
    return Verdict.UNWELL


class BusyMemory:
    """The subscribers BOSS said it could not serve ("busy", "too late") in the last `seconds`, on a clock the
    caller passes in (monotonic seconds). Bounded: the oldest are forgotten first."""

    def __init__(self, seconds: float, limit: int = 10_000) -> None:
        self.seconds = seconds
        self.limit = limit
        self._last: OrderedDict[str, float] = OrderedDict()

    def troubled(self, account: str, now: float) -> bool:
        self._forget(now)
        return account in self._last

    def remember(self, account: str, now: float) -> None:
        self._last.pop(account, None)
        self._last[account] = now
        self._forget(now)

    def _forget(self, now: float) -> None:
        while self._last:
            account, at = next(iter(self._last.items()))
            if now - at <= self.seconds and len(self._last) <= self.limit:
                return
            del self._last[account]
