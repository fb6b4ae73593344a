"""Each rule of the shipped rule-set (rulesets/default.json): it fires at its limit and not below it."""

from __future__ import annotations

import pathlib
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from risk.domain import rules
from risk.domain.engine import Verdict
from risk.domain.features import LIST_KINDS, LOCKOUT_KINDS, METRICS, SUBJECTS, Attempt, rule_context
from risk.rulebook import default_body

SHIPPED = rules.compile_ruleset(1, default_body())
WEDNESDAY_2PM = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 14:00 in Beijing
SATURDAY_2PM = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
TESTED: set[str] = set()


def decide(*, action: str = "recharge", amount: int = 5000, channel: str = "demo", at: datetime = WEDNESDAY_2PM,
           velocity: dict[str, dict[str, int]] | None = None, blocked: tuple[str, ...] = (),
           allowed: tuple[str, ...] = (), locked_out: tuple[str, ...] = (), successes: int = 0) -> Verdict:
    attempt = Attempt("demo:1", action, channel, "mobile", "18612345678", "CREDIT_50", amount, "alipay",
                      "alipay:2088", "dev-1", "10.0.0.1", "", at)
    v = {s: {f"{m}_{w}": 0 for w in SHIPPED.windows for m in METRICS} for s in SUBJECTS}
    for subject, values in (velocity or {}).items():
        v[subject].update(values)
    context = rule_context(attempt, v, {k: k in blocked for k in LIST_KINDS}, {k: k in allowed for k in LIST_KINDS},
                           {k: k in locked_out for k in LOCKOUT_KINDS},
                           {"successful_recharges": successes, "successful_fen": successes * 5000})
    result = SHIPPED.evaluate(context)
    assert result.errors == {}
    return result.verdict


def fired(verdict: Verdict) -> set[str]:
    return {h.rule_id for h in verdict.hits}


def expect(rule_id: str, verdict: Verdict, outcome: str, reason: str) -> None:
    TESTED.add(rule_id)
    assert rule_id in fired(verdict)
    assert (verdict.outcome.value, verdict.reason_code) == (outcome, reason)


def test_an_ordinary_recharge_is_allowed() -> None:
    v = decide()
    assert (v.outcome.value, v.score, v.hits, v.ruleset_version) == ("ALLOW", 0, [], "v1")


@pytest.mark.parametrize("kind", ["account", "payer", "device", "ip"])
def test_blocklisted(kind: str) -> None:
    expect("blocklisted", decide(blocked=(kind,)), "DENY", "RISK_BLOCKLISTED")


@pytest.mark.parametrize("kind", ["account", "device", "ip"])
def test_voucher_pin_lockout(kind: str) -> None:
    expect("voucher_pin_lockout", decide(action="voucher_redemption", amount=0, locked_out=(kind,)), "DENY",
           "VOUCHER_LOCKED_OUT")
    assert decide(action="recharge", locked_out=(kind,)).outcome.value == "ALLOW"  # recharges are not redemptions


@pytest.mark.parametrize(("subject", "limit"), [("device", 30), ("ip", 100)])
def test_voucher_attempt_velocity(subject: str, limit: int) -> None:
    assert decide(action="voucher_redemption", velocity={subject: {"count_10m": limit}}).outcome.value == "ALLOW"
    over = decide(action="voucher_redemption", velocity={subject: {"count_10m": limit + 1}})
    expect("voucher_attempt_velocity", over, "DENY", "RISK_VELOCITY")


def test_velocity_account_burst() -> None:
    assert decide(velocity={"account": {"count_10m": 20}}).outcome.value == "ALLOW"
    expect("velocity_account_burst", decide(velocity={"account": {"count_10m": 21}}), "CHALLENGE", "RISK_VELOCITY")
    assert decide(velocity={"account": {"count_10m": 21}}, allowed=("account",)).outcome.value == "ALLOW"


@pytest.mark.parametrize(("feature", "limit"), [("count_24h", 50), ("amount_24h", 500000)])
def test_velocity_account_daily(feature: str, limit: int) -> None:
    assert decide(velocity={"account": {feature: limit}}).outcome.value == "ALLOW"
    expect("velocity_account_daily", decide(velocity={"account": {feature: limit + 1}}), "REVIEW", "RISK_VELOCITY")


@pytest.mark.parametrize(("feature", "limit"), [("count_1h", 10), ("amount_24h", 1000000)])
def test_velocity_payer(feature: str, limit: int) -> None:
    assert decide(velocity={"payer": {feature: limit}}).outcome.value == "ALLOW"
    expect("velocity_payer", decide(velocity={"payer": {feature: limit + 1}}), "REVIEW", "RISK_VELOCITY")
    assert decide(velocity={"payer": {feature: limit + 1}}, allowed=("payer",)).outcome.value == "ALLOW"


def test_velocity_device() -> None:
    assert decide(velocity={"device": {"count_1h": 20}}).outcome.value == "ALLOW"
    expect("velocity_device", decide(velocity={"device": {"count_1h": 21}}), "CHALLENGE", "RISK_VELOCITY")


def test_velocity_ip() -> None:
    assert decide(velocity={"ip": {"count_1h": 100}}).outcome.value == "ALLOW"
    expect("velocity_ip", decide(velocity={"ip": {"count_1h": 101}}), "CHALLENGE", "RISK_VELOCITY")


def test_cashout_spray() -> None:
    four = decide(velocity={"payer": {"accounts_24h": 4, "accounts_1h": 2}})
    assert four.outcome.value == "ALLOW"
    expect("cashout_spray_review", decide(velocity={"payer": {"accounts_24h": 5}}), "REVIEW", "RISK_CASHOUT_SPRAY")
    assert decide(velocity={"payer": {"accounts_24h": 9}}).outcome.value == "REVIEW"
    expect("cashout_spray_deny", decide(velocity={"payer": {"accounts_24h": 10}}), "DENY", "RISK_CASHOUT_SPRAY")
    assert decide(velocity={"payer": {"accounts_24h": 10}}, allowed=("payer",)).outcome.value == "ALLOW"


def test_promo_abuse_first_recharge() -> None:
    assert decide(velocity={"device": {"new_accounts_24h": 2}}).outcome.value == "ALLOW"
    expect("promo_abuse_first_recharge", decide(velocity={"device": {"new_accounts_24h": 3}}), "DENY",
           "RISK_PROMO_ABUSE")
    # An account with a successful recharge is not claiming a first-recharge promotion.
    assert "promo_abuse_first_recharge" not in fired(decide(velocity={"device": {"new_accounts_24h": 3}}, successes=1))


def test_promo_abuse_weekend() -> None:
    assert decide(velocity={"device": {"accounts_24h": 5}}).outcome.value == "ALLOW"  # a Wednesday
    assert decide(at=SATURDAY_2PM, velocity={"device": {"accounts_24h": 4}}).outcome.value == "ALLOW"
    expect("promo_abuse_weekend", decide(at=SATURDAY_2PM, velocity={"device": {"accounts_24h": 5}}), "REVIEW",
           "RISK_PROMO_ABUSE")


def test_large_amount() -> None:
    assert decide(amount=29999).outcome.value == "ALLOW"
    expect("large_amount", decide(amount=30000), "REVIEW", "RISK_LARGE_AMOUNT")
    assert decide(amount=50000, allowed=("channel",)).outcome.value == "ALLOW"
    assert decide(amount=50000, allowed=("account",)).outcome.value == "ALLOW"
    assert decide(amount=50000, successes=2).outcome.value == "REVIEW"
    assert decide(amount=50000, successes=3).outcome.value == "ALLOW"  # an established account


def test_score_only_signals_add_up_to_the_thresholds() -> None:
    three_am = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)  # 03:00 in Beijing
    night = decide(at=three_am)
    TESTED.add("night_new_account")
    assert (night.outcome.value, night.score, fired(night)) == ("ALLOW", 20, {"night_new_account"})
    assert "night_new_account" not in fired(decide(at=three_am, successes=1))
    payer = decide(velocity={"payer": {"accounts_1h": 3, "accounts_24h": 3}})
    TESTED.add("payer_several_accounts_1h")
    assert (payer.outcome.value, payer.score) == ("ALLOW", 30)
    # Two weak signals together reach the challenge threshold (50): a step-up, with the score as the reason.
    both = decide(at=three_am, velocity={"payer": {"accounts_1h": 3, "accounts_24h": 3}})
    assert (both.outcome.value, both.reason_code, both.score) == ("CHALLENGE", "RISK_SCORE", 50)
    device = decide(velocity={"device": {"accounts_1h": 4, "accounts_24h": 4}, "payer": {"accounts_1h": 3,
                                                                                          "accounts_24h": 3}})
    TESTED.add("device_several_accounts_1h")
    assert (device.outcome.value, device.score) == ("CHALLENGE", 60)
    assert decide(velocity={"device": {"accounts_1h": 3}}).score == 0


def test_every_shipped_rule_has_a_test() -> None:
    source = pathlib.Path(__file__).read_text()
    tested = set(re.findall(r'expect\(\s*"([a-z_0-9]+)"', source))
    tested |= set(re.findall(r'TESTED.add\("([a-z_0-9]+)"\)', source))
    assert {r.id for r in SHIPPED.doc.rules} == tested


def _context_is_complete(context: dict[str, Any]) -> None:
    assert set(context) == set(rules.VARIABLES)


def test_the_context_declares_every_variable() -> None:
    attempt = Attempt("k", "recharge", "c", "mobile", "1", "S", 1, "alipay", "", "", "", "", WEDNESDAY_2PM)
    _context_is_complete(rule_context(attempt, {}, {}, {}, {}, {}))
