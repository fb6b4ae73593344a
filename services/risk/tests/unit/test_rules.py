"""Rule-set documents: what validation refuses, and how fired rules combine into one decision."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from risk.domain import rules
from risk.domain.engine import Outcome, RuleOutcome, Thresholds, combine
from risk.rulebook import default_body

DEFAULT: dict[str, Any] = orjson.loads(default_body())


def doc(**changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(DEFAULT)
    d.update(changes)
    return d


def with_rule(**rule: Any) -> dict[str, Any]:
    d = doc()
    d["rules"].append({"id": "extra", "description": "x", "when": "amount_fen > 1", "outcome": "DENY", "score": 1,
                       "reason_code": "X_Y",
                       **rule})
    return d


def problems(body: dict[str, Any] | str) -> dict[str, str]:
    with pytest.raises(rules.RuleSetInvalidError) as err:
        rules.compile_ruleset(2, body if isinstance(body, str) else orjson.dumps(body))
    return err.value.problems


def test_the_shipped_rule_set_is_valid() -> None:
    compiled = rules.compile_ruleset(1, default_body())
    assert compiled.label == "v1" and len(compiled.outcomes) == len(DEFAULT["rules"])
    assert compiled.windows == {"10m": 10, "1h": 60, "24h": 1440}


@pytest.mark.parametrize(
    ("when", "fragment"),
    [
        ("amount_fen >", "Syntax error"),
        ("amount > 100", "undeclared reference to 'amount'"),
        ("amount_fen > '100'", "no matching overload"),
        ("amount_fen + 1", "must be a condition"),
        ("velocity.account.count_2h > 1", "fails on a sample attempt"),  # a window the version does not declare
        ("velocity.acount.count_1h > 1", "fails on a sample attempt"),
        ("blocked.phone", "fails on a sample attempt"),
    ],
)
def test_a_bad_expression_is_refused_with_the_rule_named(when: str, fragment: str) -> None:
    found = problems(with_rule(when=when))
    assert list(found) == ["rules.extra"] and fragment in found["rules.extra"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (doc(windows=["10m", "25h"]), "windows"),
        (doc(windows=["10s"]), "windows"),
        (doc(thresholds={"challenge": 80, "review": 50}), "thresholds"),
        (doc(lockout={**DEFAULT["lockout"], "max_failures": {"account": 11, "device": 5, "ip": 10}}),
         "lockout.max_failures.account"),
        (doc(lockout={**DEFAULT["lockout"], "lockout_seconds": 1799}), "lockout.lockout_seconds"),
        (doc(lockout={**DEFAULT["lockout"], "max_failures": {"account": 5}}), "lockout.max_failures"),
        (doc(rules=[r for r in DEFAULT["rules"] if r.get("reason_code") != "VOUCHER_LOCKED_OUT"]), "rules"),
        (doc(rules=[*DEFAULT["rules"], DEFAULT["rules"][0]]), "rules"),
        (with_rule(outcome="ALLOW"), "rules.extra.outcome"),
        (with_rule(reason_code=""), "rules.extra"),
        (with_rule(outcome=None, score=0), "rules.extra"),
        (with_rule(id="Bad Id"), "rules.Bad Id.id"),
        (doc(surprise=1), "surprise"),
    ],
)
def test_invalid_documents_are_refused(body: dict[str, Any], where: str) -> None:
    assert where in problems(body)


def test_not_json_is_refused() -> None:
    assert "body" in problems("{not json")


def test_canonical_digest_ignores_key_order() -> None:
    a = rules.parse(orjson.dumps(DEFAULT))
    b = rules.parse(orjson.dumps(dict(reversed(list(DEFAULT.items())))))
    assert rules.digest(a) == rules.digest(b)


def test_a_rule_failing_at_run_time_does_not_fire_and_the_others_still_decide() -> None:
    compiled = rules.compile_ruleset(2, orjson.dumps(with_rule(
        id="overflow", when="amount_fen * 9223372036854775807 > 0", outcome="DENY", reason_code="RISK_X")))
    context = rules.sample_context(compiled.windows)
    context["blocked"] = {**context["blocked"], "account": True}
    context["amount_fen"] = 2
    result = compiled.evaluate(context)
    assert "overflow" in result.errors
    assert (result.verdict.outcome, result.verdict.reason_code) == (Outcome.DENY, "RISK_BLOCKLISTED")


R = [RuleOutcome("a", "", Outcome.CHALLENGE, 10, "RISK_A"), RuleOutcome("b", "", Outcome.REVIEW, 10, "RISK_B"),
     RuleOutcome("c", "", None, 40, ""), RuleOutcome("d", "", Outcome.DENY, 0, "RISK_D"),
     RuleOutcome("e", "", Outcome.REVIEW, 5, "RISK_E")]
T = Thresholds(challenge=30, review=50, deny=100)


@pytest.mark.parametrize(
    ("fired", "outcome", "reason", "score"),
    [
        ("", "ALLOW", "", 0),
        ("a", "CHALLENGE", "RISK_A", 10),
        ("ab", "REVIEW", "RISK_B", 20),  # a person's hold outranks a step-up
        ("be", "REVIEW", "RISK_B", 15),  # the first of equally severe rules names the reason
        ("c", "CHALLENGE", "RISK_SCORE", 40),  # a score alone reaches a threshold
        ("ac", "REVIEW", "RISK_SCORE", 50),
        ("bc", "REVIEW", "RISK_B", 50),  # a rule's own outcome as severe as the score's: the rule's reason
        ("abcd", "DENY", "RISK_D", 60),
    ],
)
def test_combining_fired_rules(fired: str, outcome: str, reason: str, score: int) -> None:
    v = combine("v9", R, [r.rule_id in fired for r in R], T)
    assert (v.outcome.value, v.reason_code, v.score, v.ruleset_version) == (outcome, reason, score, "v9")
    assert [h.rule_id for h in v.hits] == [r.rule_id for r in R if r.rule_id in fired]


@given(st.lists(st.booleans(), min_size=len(R), max_size=len(R)))
def test_the_decision_is_never_milder_than_a_fired_rule_or_the_score(fired: list[bool]) -> None:
    v = combine("v1", R, fired, T)
    for rule, did in zip(R, fired, strict=True):
        if did and rule.outcome is not None:
            assert v.outcome.severity >= rule.outcome.severity
    assert v.outcome.severity >= T.outcome_for(v.score).severity
    assert (v.outcome is Outcome.ALLOW) == (v.reason_code == "")
