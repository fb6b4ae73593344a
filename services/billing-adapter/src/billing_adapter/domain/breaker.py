"""Which answers say that BOSS itself is unwell (and so count towards opening the circuit breaker). Pure.

* BOSS answered (done, refused for good, no such transaction): healthy.
* Nothing reached BOSS, it did not answer in time, a proxy in front of it failed, or it answered something
  it does not document: unwell, whichever subscriber the call was about.
* BOSS answered, with one of its own codes, that it did not do it ("busy", "too late"): that may be BOSS
  overloaded, or one subscriber BOSS cannot serve now. The first such answer for a subscriber counts as
  unwell; more of them for the same subscriber, with no healthy answer in between, say nothing new about
  BOSS and do not count (neutral): one subscriber's trouble cannot open the breaker for everybody, while
  busy answers for many subscribers still do.
* While the breaker probes (half-open), any unwell answer reopens it: it opened because many subscribers
  failed in a row, and one more failure does not show BOSS has recovered.
"""

from __future__ import annotations

from collections.abc import Set
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


def verdict(result: Classified, account: str, streak: Set[str], *, probing: bool = False) -> Verdict:
    """The breaker's reading of one answer about `account`'s request; `streak` holds the accounts with an
    unwell answer since the last healthy one, `probing` whether the breaker is half-open."""
    if result.outcome in _ANSWERED:
        return Verdict.HEALTHY
    if result.subscriber_scoped and account in streak and not probing:
        return Verdict.NEUTRAL
    return Verdict.UNWELL
