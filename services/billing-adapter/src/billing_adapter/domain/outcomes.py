"""How a BOSS reply is classified, and the retry policy. Pure: no I/O.

`transformers.py` maps the provider's codes onto these outcomes in one place; everything else works with
`Outcome` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    #: BOSS did it.
    SUCCESS = "success"
    #: BOSS refused for good (subscriber not found, suspended...): do not retry.
    TERMINAL_FAILURE = "terminal_failure"
    #: BOSS did not do it and says so (busy), or the request never reached it: safe to retry.
    RETRYABLE = "retryable"
    #: We cannot tell whether BOSS did it (timeout after sending, lost reply): never guessed.
    UNKNOWN = "unknown"
    #: (status query only) BOSS has no such transaction.
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Classified:
    outcome: Outcome
    provider_code: str
    #: our documented code for a failure, e.g. BOSS_SUBSCRIBER_NOT_FOUND
    reason_code: str = ""
    boss_serial: str = ""
    error: str = ""
    #: BOSS itself answered, with one of its own codes, that it did not do this request ("busy", "too late"):
    #: possibly about this subscriber alone, not BOSS as a whole (see `domain/breaker.py`)
    subscriber_scoped: bool = False
