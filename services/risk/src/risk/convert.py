"""Between protobuf messages and the engine's own types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from google.protobuf.timestamp_pb2 import Timestamp

from risk.domain.engine import Outcome, RuleHit, Verdict
from risk.domain.errors import InvalidRequest
from risk.domain.features import ACTIONS, Attempt, normalise_ip
from topup.common.v1 import common_pb2
from topup.events.v1 import envelope_pb2
from topup.events.v1 import risk_pb2 as events_pb2
from topup.risk.v1 import risk_pb2
from topup_platform import identifiers, vocab
from topup_platform.ids import new_id, new_id_str
from topup_platform.timeutil import from_timestamp, to_timestamp, utcnow

OUTCOME_TO_PB = {Outcome.ALLOW: risk_pb2.OUTCOME_ALLOW, Outcome.CHALLENGE: risk_pb2.OUTCOME_CHALLENGE,
                 Outcome.REVIEW: risk_pb2.OUTCOME_REVIEW, Outcome.DENY: risk_pb2.OUTCOME_DENY}
_MAX_FIELD = 256
DECISION_MADE = events_pb2.DecisionMade.DESCRIPTOR.full_name


@dataclass(frozen=True, slots=True)
class StoredDecision:
    decision_id: UUID
    verdict: Verdict
    decided_at: datetime
    shadow: Verdict | None = None
    #: the attempt's inputs and the features the rules saw (audit); None when not loaded
    inputs: dict[str, Any] | None = field(default=None, compare=False)
    #: the decision as callers see it, when already built
    pb: risk_pb2.Decision | None = field(default=None, compare=False, repr=False)


def attempt_from_pb(request: risk_pb2.EvaluateRequest) -> tuple[Attempt, dict[str, Any]]:
    """Validate one attempt: the engine's view of it, and its inputs as the decision record stores them."""
    if not request.idempotency_key or not request.channel_id:
        raise InvalidRequest("idempotency_key and channel_id are required")
    if request.account.type not in vocab.ACCOUNT_TYPE_NAMES or not request.account.id:
        raise InvalidRequest("account is required")
    if not identifiers.valid_account(vocab.ACCOUNT_TYPE_NAMES[request.account.type], request.account.id):
        # the account is the key of velocity, lists and lockouts: one subscriber, one spelling
        raise InvalidRequest("the account id does not have the format of its type", code="ACCOUNT_INVALID")
    if request.amount_fen < 0:
        raise InvalidRequest("amount_fen must not be negative")
    action = request.action or "recharge"
    if action not in ACTIONS:
        raise InvalidRequest(f"action must be one of {', '.join(ACTIONS)}")
    texts = {"idempotency_key": request.idempotency_key, "account": request.account.id, "sku": request.sku,
             "payer_account": request.payment.payer_account, "device_id": request.device_id, "ip": request.ip,
             "user_id": request.user_id}
    for name, value in texts.items():
        if len(value) > _MAX_FIELD:
            raise InvalidRequest(f"{name} is longer than {_MAX_FIELD} characters")
    for name in ("payer_account", "device_id", "user_id"):  # keys of velocity and lockouts too
        if texts[name].strip() and not identifiers.matches(identifiers.VISIBLE, texts[name].strip()):
            raise InvalidRequest(f"{name} must be visible ASCII characters")
    ip = ""
    if request.ip:
        try:
            ip = normalise_ip(request.ip)
        except ValueError:
            raise InvalidRequest("ip is not an IP address") from None
    method = vocab.PAYMENT_METHOD_NAMES.get(request.payment.method, "")
    payer = request.payment.payer_account.strip()
    occurred = from_timestamp(request.occurred_at) or utcnow()
    attempt = Attempt(
        key=request.idempotency_key, action=action, channel_id=request.channel_id,
        account_type=vocab.ACCOUNT_TYPE_NAMES[request.account.type], account_id=request.account.id,
        sku=request.sku, amount_fen=request.amount_fen, payment_method=method,
        # a payer account is only meaningful at its provider: alipay:2088... and wechat:2088... are two payers
        payer=f"{method}:{payer}" if payer else "", device=request.device_id.strip(), ip=ip,
        user=request.user_id, occurred_at=occurred, trace=dict(request.trace_context),
    )
    inputs = {
        "action": action, "channel_id": attempt.channel_id, "account_type": attempt.account_type,
        "account_id": attempt.account_id, "sku": attempt.sku, "amount_fen": attempt.amount_fen,
        "payment": {"method": method, "transaction_id": request.payment.transaction_id,
                    "paid_fen": request.payment.paid_fen, "payer_account": payer},
        "device_id": attempt.device, "ip": ip, "user_id": attempt.user, "occurred_at": occurred.isoformat(),
    }
    return attempt, inputs


def hits_json(verdict: Verdict) -> list[dict[str, Any]]:
    return [{"rule_id": h.rule_id, "description": h.description, "outcome": h.outcome.value, "score": h.score}
            for h in verdict.hits]


def _verdict_pb(v: Verdict, decision_id: str, decided_at: datetime | Timestamp) -> risk_pb2.Decision:
    return risk_pb2.Decision(
        decision_id=decision_id,
        outcome=OUTCOME_TO_PB[v.outcome],
        score=v.score,
        rules_fired=[risk_pb2.RuleHit(rule_id=h.rule_id, description=h.description, outcome=OUTCOME_TO_PB[h.outcome],
                                      score=h.score) for h in v.hits],
        ruleset_version=v.ruleset_version,
        reason_code=v.reason_code,
        decided_at=decided_at if isinstance(decided_at, Timestamp) else to_timestamp(decided_at),
    )


def decision_to_pb(stored: StoredDecision, *, audit: bool = False) -> risk_pb2.Decision:
    """The decision as callers see it; `audit` adds the shadow decision and the inputs (GetDecision)."""
    if stored.pb is not None and not audit:
        return stored.pb
    pb = _verdict_pb(stored.verdict, str(stored.decision_id), stored.decided_at)
    if audit:
        if stored.shadow is not None:
            pb.shadow.CopyFrom(_verdict_pb(stored.shadow, str(stored.decision_id), stored.decided_at))
        if stored.inputs is not None:
            pb.inputs_json = orjson.dumps(stored.inputs).decode()
    return pb


def new_decision(verdict: Verdict, shadow: Verdict | None, inputs: dict[str, Any], decided_at: datetime,
                 decided_at_pb: Timestamp) -> StoredDecision:
    """A fresh decision, its message built once (for the reply and the event)."""
    decision_id = new_id()
    return StoredDecision(decision_id, verdict, decided_at, shadow, inputs,
                          _verdict_pb(verdict, str(decision_id), decided_at_pb))


def decision_envelope(stored: StoredDecision, attempt: Attempt, at: Timestamp, producer: str) -> tuple[str, bytes]:
    """The DecisionMade event's id and envelope (key: the decision id), continuing the request's trace."""
    envelope = envelope_pb2.EventEnvelope(
        event_id=new_id_str(), event_type=DECISION_MADE, occurred_at=at, aggregate_type="risk_decision",
        aggregate_id=str(stored.decision_id), trace_context=attempt.trace, producer=producer)
    envelope.payload.Pack(decision_event(stored, attempt))
    return envelope.event_id, envelope.SerializeToString()


def decision_event(stored: StoredDecision, attempt: Attempt) -> events_pb2.DecisionMade:
    event = events_pb2.DecisionMade(
        decision=decision_to_pb(stored), idempotency_key=attempt.key, channel_id=attempt.channel_id,
        account=common_pb2.Account(type=vocab.ACCOUNT_TYPES[attempt.account_type], id=attempt.account_id),
        amount_fen=attempt.amount_fen, action=attempt.action,
    )
    if stored.shadow is not None:
        event.shadow.CopyFrom(_verdict_pb(stored.shadow, str(stored.decision_id), stored.decided_at))
    return event


def _hits(value: Any) -> list[RuleHit]:
    if isinstance(value, str | bytes):
        value = orjson.loads(value)
    return [RuleHit(r["rule_id"], r["description"], Outcome(r["outcome"]), r["score"]) for r in value or []]


def stored_from_row(row: asyncpg.Record) -> StoredDecision:
    verdict = Verdict(Outcome(row["outcome"]), row["score"], row["ruleset_version"], row["reason_code"],
                      _hits(row["rules_fired"]))
    shadow = None
    if row["shadow_ruleset_version"]:
        shadow = Verdict(Outcome(row["shadow_outcome"]), row["shadow_score"], row["shadow_ruleset_version"],
                         row["shadow_reason_code"] or "", _hits(row["shadow_rules_fired"]))
    inputs = row["inputs"]
    if isinstance(inputs, str | bytes):
        inputs = orjson.loads(inputs)
    return StoredDecision(row["decision_id"], verdict, row["decided_at"], shadow, inputs)
