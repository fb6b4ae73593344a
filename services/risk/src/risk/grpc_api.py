"""The RiskService gRPC servicer."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import grpc
from google.protobuf.json_format import MessageToDict

from risk.service import RiskService, StoredDecision
from topup.risk.v1 import risk_pb2, risk_pb2_grpc
from topup_platform import vocab
from topup_platform.errors import DomainError, InvalidArgument, NotFound
from topup_platform.timeutil import from_timestamp, to_timestamp, utcnow

_OUTCOME_TO_PB = {"ALLOW": risk_pb2.OUTCOME_ALLOW, "CHALLENGE": risk_pb2.OUTCOME_CHALLENGE,
                  "REVIEW": risk_pb2.OUTCOME_REVIEW, "DENY": risk_pb2.OUTCOME_DENY}


def decision_to_pb(stored: StoredDecision) -> risk_pb2.Decision:
    v = stored.verdict
    return risk_pb2.Decision(
        decision_id=str(stored.decision_id),
        outcome=_OUTCOME_TO_PB[v.outcome.value],
        score=v.score,
        rules_fired=[risk_pb2.RuleHit(rule_id=h.rule_id, description=h.description,
                                      outcome=_OUTCOME_TO_PB[h.outcome.value], score=h.score) for h in v.hits],
        ruleset_version=v.ruleset_version,
        reason_code=v.reason_code,
        decided_at=to_timestamp(stored.decided_at),
    )


def attempt_inputs(request: risk_pb2.EvaluateRequest) -> dict[str, Any]:
    """Validate one attempt and turn it into the engine's inputs (what the decision record stores)."""
    if not request.idempotency_key or not request.channel_id:
        raise InvalidArgument("idempotency_key and channel_id are required")
    if request.account.type not in vocab.ACCOUNT_TYPE_NAMES or not request.account.id:
        raise InvalidArgument("account is required")
    if request.amount_fen < 0:
        raise InvalidArgument("amount_fen must not be negative")
    occurred = from_timestamp(request.occurred_at) or utcnow()
    return {
        "action": request.action or "recharge",
        "channel_id": request.channel_id,
        "account_type": vocab.ACCOUNT_TYPE_NAMES[request.account.type],
        "account_id": request.account.id,
        "sku": request.sku,
        "amount_fen": request.amount_fen,
        "payment": MessageToDict(request.payment, preserving_proto_field_name=True),
        "device_id": request.device_id,
        "ip": request.ip,
        "user_id": request.user_id,
        "occurred_at": occurred.isoformat(),
    }


class RiskServicer(risk_pb2_grpc.RiskServiceServicer):
    def __init__(self, service: RiskService) -> None:
        self.service = service

    async def Evaluate(
        self, request: risk_pb2.EvaluateRequest, context: grpc.aio.ServicerContext
    ) -> risk_pb2.Decision:
        return decision_to_pb(await self.service.evaluate(request.idempotency_key, attempt_inputs(request)))

    async def EvaluateBatch(
        self, request: risk_pb2.EvaluateBatchRequest, context: grpc.aio.ServicerContext
    ) -> risk_pb2.EvaluateBatchResponse:
        results: list[risk_pb2.EvaluateResult] = [risk_pb2.EvaluateResult() for _ in request.items]
        valid: list[tuple[int, str, dict[str, Any]]] = []
        for i, item in enumerate(request.items):
            try:
                valid.append((i, item.idempotency_key, attempt_inputs(item)))
            except DomainError as err:
                results[i].error.CopyFrom(err.to_error_pb())
        decisions = await self.service.evaluate_many([(key, inputs) for _, key, inputs in valid])
        for (i, _, _), stored in zip(valid, decisions, strict=True):
            results[i].decision.CopyFrom(decision_to_pb(stored))
        return risk_pb2.EvaluateBatchResponse(results=results)

    async def GetDecision(
        self, request: risk_pb2.GetDecisionRequest, context: grpc.aio.ServicerContext
    ) -> risk_pb2.Decision:
        try:
            decision_id = UUID(request.decision_id)
        except ValueError:
            raise NotFound("no such decision") from None
        stored = await self.service.get(decision_id)
        if stored is None:
            raise NotFound("no such decision")
        return decision_to_pb(stored)
