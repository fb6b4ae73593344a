"""The decision engine. The walking skeleton ships one rule-set, `baseline-1`, that allows everything;
the rules-as-data engine replaces it (issue: risk engine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    ALLOW = "ALLOW"
    CHALLENGE = "CHALLENGE"
    REVIEW = "REVIEW"
    DENY = "DENY"


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule_id: str
    description: str
    outcome: Outcome
    score: int


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    score: int
    ruleset_version: str
    reason_code: str = ""
    hits: list[RuleHit] = field(default_factory=list)


BASELINE_VERSION = "baseline-1"


def evaluate_baseline(_: dict[str, object]) -> Verdict:
    return Verdict(Outcome.ALLOW, 0, BASELINE_VERSION)
