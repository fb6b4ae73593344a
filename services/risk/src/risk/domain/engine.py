"""Decisions: outcomes, the rules that fired, and how fired rules combine into one outcome.

Every fired rule adds its score; a rule may also name an outcome of its own. The decision is the most severe
of (a) the outcomes of the fired rules and (b) what the total score reaches on the rule-set's thresholds
(Tazama's idea: separate thresholds for stepping up, holding for a person and blocking). The reason code is
the one of the most severe fired rule, or `RISK_SCORE` when only the sum of scores got there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    ALLOW = "ALLOW"
    CHALLENGE = "CHALLENGE"
    REVIEW = "REVIEW"
    DENY = "DENY"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


#: A challenge asks the channel to step up verification; a review holds the order for a person; a denial
#: rejects it. A person's hold outranks a step-up: an order that needs both is held.
_SEVERITY = {Outcome.ALLOW: 0, Outcome.CHALLENGE: 1, Outcome.REVIEW: 2, Outcome.DENY: 3}

SCORE_REASON = "RISK_SCORE"
MAX_SCORE = 1_000_000


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule_id: str
    description: str
    #: the rule's own outcome; ALLOW for a rule that only adds to the score
    outcome: Outcome
    score: int


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    score: int
    ruleset_version: str
    reason_code: str = ""
    hits: list[RuleHit] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Total scores at which the decision becomes at least CHALLENGE, REVIEW or DENY (None: never)."""

    challenge: int | None = None
    review: int | None = None
    deny: int | None = None

    def outcome_for(self, score: int) -> Outcome:
        for outcome, threshold in ((Outcome.DENY, self.deny), (Outcome.REVIEW, self.review),
                                   (Outcome.CHALLENGE, self.challenge)):
            if threshold is not None and score >= threshold:
                return outcome
        return Outcome.ALLOW


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What a rule does when it fires (its `when` expression lives in the compiled rule-set)."""

    rule_id: str
    description: str
    outcome: Outcome | None
    score: int
    reason_code: str


def combine(version: str, rules: Sequence[RuleOutcome], fired: Sequence[bool], thresholds: Thresholds) -> Verdict:
    """The decision from the rules that fired (in rule order)."""
    hits: list[RuleHit] = []
    score = 0
    worst: RuleOutcome | None = None
    for rule, did_fire in zip(rules, fired, strict=True):
        if not did_fire:
            continue
        hits.append(RuleHit(rule.rule_id, rule.description, rule.outcome or Outcome.ALLOW, rule.score))
        score += rule.score
        if rule.outcome is not None and (worst is None or worst.outcome is None
                                         or rule.outcome.severity > worst.outcome.severity):
            worst = rule
    score = min(score, MAX_SCORE)
    by_rule = worst.outcome if worst is not None and worst.outcome is not None else Outcome.ALLOW
    by_score = thresholds.outcome_for(score)
    if by_score.severity > by_rule.severity:
        return Verdict(by_score, score, version, SCORE_REASON, hits)
    reason = worst.reason_code if worst is not None and by_rule is not Outcome.ALLOW else ""
    return Verdict(by_rule, score, version, reason, hits)
