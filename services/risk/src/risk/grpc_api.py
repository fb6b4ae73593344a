"""The RiskService gRPC servicer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import grpc
import orjson
from prometheus_client import Histogram

from risk.convert import OUTCOME_TO_PB, StoredDecision, attempt_from_pb, decision_to_pb
from risk.domain.engine import Outcome
from risk.domain.errors import DecisionNotFound, InvalidRequest
from risk.domain.features import Attempt
from risk.service import RiskService, RuleSetRecord, State
from topup.common.v1 import common_pb2
from topup.risk.v1 import risk_pb2, risk_pb2_grpc
from topup_platform import identifiers, staff, telemetry
from topup_platform.access import AccessPolicy
from topup_platform.batching import MicroBatcher
from topup_platform.errors import DomainError
from topup_platform.timeutil import from_timestamp, to_timestamp

#: Evaluate's latency inside the service (from the call's arrival to its decision), finer than the shared
#: gRPC histogram: what `python -m bench.risk` reads.
EVALUATE_SECONDS = Histogram(
    "topup_risk_evaluate_seconds", "Time to decide on one attempt inside the risk service", ["rpc"],
    buckets=(0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25,
             0.5, 1.0),
)
_STATUS_TO_PB = {"DRAFT": risk_pb2.RULE_SET_STATUS_DRAFT, "LIVE": risk_pb2.RULE_SET_STATUS_LIVE,
                 "SHADOW": risk_pb2.RULE_SET_STATUS_SHADOW, "RETIRED": risk_pb2.RULE_SET_STATUS_RETIRED}
_MODES = {risk_pb2.DEPLOY_MODE_LIVE: "live", risk_pb2.DEPLOY_MODE_SHADOW: "shadow"}


#: who may call what (the peer's certificate names it): the gateway evaluates attempts and serves the admin
#: API; operators' tools read decisions, rules, lists and lockouts
ACCESS = AccessPolicy.of(risk_pb2.DESCRIPTOR.services_by_name["RiskService"], {
    "gateway": ["Evaluate", "EvaluateBatch", "GetDecision", "CreateRuleSet", "GetRuleSet", "ListRuleSets",
                "DeployRuleSet", "StopShadow", "GetRuleSetState", "CompareShadow", "PutListEntry", "DeleteListEntry",
                "ListListEntries", "GetLockout", "ClearLockout"],
    "ops": ["GetDecision", "GetRuleSet", "ListRuleSets", "GetRuleSetState", "CompareShadow", "ListListEntries",
            "GetLockout"],
})


def _actor() -> str:
    """Who makes the change: the member of staff of the gateway's signed assertion (a request's `actor` field
    is ignored: anyone able to send a request could fill it)."""
    return staff.current().id


def _staff(actor_id: str) -> common_pb2.Actor:
    kind = common_pb2.Actor.KIND_SERVICE if actor_id == "risk" else common_pb2.Actor.KIND_STAFF
    return common_pb2.Actor(kind=kind, id=actor_id)


def _ruleset_pb(r: RuleSetRecord, *, with_body: bool = True) -> risk_pb2.RuleSet:
    return risk_pb2.RuleSet(
        version=r.version, body_json=orjson.dumps(r.body).decode() if with_body else "", status=_STATUS_TO_PB[r.status],
        note=r.note, created_by=_staff(r.created_by), created_at=to_timestamp(r.created_at))


class RiskServicer(risk_pb2_grpc.RiskServiceServicer):
    def __init__(self, service: RiskService, *, max_batch: int = 128) -> None:
        self.service = service
        # Concurrent single Evaluate calls share the batch's two statements.
        self._batcher: MicroBatcher[tuple[Attempt, dict[str, Any]], StoredDecision] = MicroBatcher(
            self._flush, max_batch=max_batch, max_in_flight=2)

    async def _flush(self, items: list[tuple[Attempt, dict[str, Any]]]) -> Sequence[StoredDecision]:
        return await self.service.evaluate_many(items)

    def _state_pb(self, s: State) -> risk_pb2.RuleSetState:
        loaded = self.service.rulebook.current
        return risk_pb2.RuleSetState(
            live_version=s.live_version, shadow_version=s.shadow_version, generation=s.generation,
            changed_at=to_timestamp(s.changed_at), changed_by=s.changed_by,
            loaded_live_version=loaded.live.version,
            loaded_shadow_version=loaded.shadow.version if loaded.shadow else 0)

    # --- decisions ------------------------------------------------------------------------------------

    async def Evaluate(
        self, request: risk_pb2.EvaluateRequest, context: grpc.aio.ServicerContext
    ) -> risk_pb2.Decision:
        started = time.perf_counter()
        decision = decision_to_pb(await self._batcher.submit(attempt_from_pb(request)))
        EVALUATE_SECONDS.labels("Evaluate").observe(time.perf_counter() - started)
        return decision

    async def EvaluateBatch(
        self, request: risk_pb2.EvaluateBatchRequest, context: grpc.aio.ServicerContext
    ) -> risk_pb2.EvaluateBatchResponse:
        started = time.perf_counter()
        results: list[risk_pb2.EvaluateResult] = [risk_pb2.EvaluateResult() for _ in request.items]
        valid: list[tuple[int, tuple[Attempt, dict[str, Any]]]] = []
        for i, item in enumerate(request.items):
            try:
                valid.append((i, attempt_from_pb(item)))
            except DomainError as err:
                results[i].error.CopyFrom(err.to_error_pb())
        with telemetry.item_spans("evaluate attempt", (  # the batch serves many requests: a span in each one's trace
                (attempt.trace, {"topup.channel": attempt.channel_id}) for _, (attempt, _) in valid)):
            decisions = await self.service.evaluate_many([attempt for _, attempt in valid])
        for (i, _), stored in zip(valid, decisions, strict=True):
            results[i].decision.CopyFrom(decision_to_pb(stored))
        elapsed = time.perf_counter() - started
        histogram = EVALUATE_SECONDS.labels("EvaluateBatch")
        for _ in valid:
            histogram.observe(elapsed)
        return risk_pb2.EvaluateBatchResponse(results=results)

    async def GetDecision(
        self, request: risk_pb2.GetDecisionRequest, context: grpc.aio.ServicerContext
    ) -> risk_pb2.Decision:
        try:
            decision_id = identifiers.parse_uuid(request.decision_id)
        except ValueError:
            raise DecisionNotFound() from None
        stored = await self.service.get(decision_id)
        if stored is None:
            raise DecisionNotFound()
        return decision_to_pb(stored, audit=True)

    # --- rule-sets ------------------------------------------------------------------------------------

    async def CreateRuleSet(
        self, request: risk_pb2.CreateRuleSetRequest, context: grpc.aio.ServicerContext
    ) -> risk_pb2.RuleSet:
        record = await self.service.create_ruleset(request.body_json, request.note, _actor(),
                                                   validate_only=request.validate_only)
        return _ruleset_pb(record)

    async def GetRuleSet(self, request: risk_pb2.GetRuleSetRequest, context: grpc.aio.ServicerContext
                         ) -> risk_pb2.RuleSet:
        return _ruleset_pb(await self.service.get_ruleset(request.version))

    async def ListRuleSets(self, request: risk_pb2.ListRuleSetsRequest, context: grpc.aio.ServicerContext
                           ) -> risk_pb2.ListRuleSetsResponse:
        records, state = await self.service.list_rulesets(request.limit)
        return risk_pb2.ListRuleSetsResponse(rule_sets=[_ruleset_pb(r, with_body=False) for r in records],
                                             state=self._state_pb(state))

    async def DeployRuleSet(self, request: risk_pb2.DeployRuleSetRequest, context: grpc.aio.ServicerContext
                            ) -> risk_pb2.RuleSetState:
        if request.mode not in _MODES:
            raise InvalidRequest("mode must be LIVE or SHADOW")
        state = await self.service.deploy(request.version, _MODES[request.mode], _actor(), request.note)
        return self._state_pb(state)

    async def StopShadow(self, request: risk_pb2.StopShadowRequest, context: grpc.aio.ServicerContext
                         ) -> risk_pb2.RuleSetState:
        return self._state_pb(await self.service.stop_shadow(_actor()))

    async def GetRuleSetState(self, request: risk_pb2.GetRuleSetStateRequest, context: grpc.aio.ServicerContext
                              ) -> risk_pb2.RuleSetState:
        return self._state_pb(await self.service.state())

    async def CompareShadow(self, request: risk_pb2.CompareShadowRequest, context: grpc.aio.ServicerContext
                            ) -> risk_pb2.ShadowComparison:
        report = await self.service.compare_shadow(request.shadow_version, from_timestamp(request.since),
                                                   request.sample_size or 20)
        return risk_pb2.ShadowComparison(
            shadow_version=report["shadow_version"], live_versions=report["live_versions"],
            decisions=report["decisions"], agreements=report["agreements"],
            pairs=[risk_pb2.OutcomePair(live=OUTCOME_TO_PB[Outcome(live)], shadow=OUTCOME_TO_PB[Outcome(shadow)],
                                        count=n) for live, shadow, n in report["pairs"]],
            differences=[risk_pb2.ShadowDifference(
                decision_id=d["decision_id"], live=OUTCOME_TO_PB[Outcome(d["live"])],
                shadow=OUTCOME_TO_PB[Outcome(d["shadow"])], live_rules=d["live_rules"],
                shadow_rules=d["shadow_rules"], decided_at=to_timestamp(d["decided_at"]),
            ) for d in report["differences"]],
        )

    # --- lists ----------------------------------------------------------------------------------------

    async def PutListEntry(self, request: risk_pb2.PutListEntryRequest, context: grpc.aio.ServicerContext
                           ) -> risk_pb2.ListEntry:
        e = request.entry
        row = await self.service.put_list_entry(e.list, e.kind, e.value, from_timestamp(e.expires_at), e.reason,
                                                _actor())
        return _entry_pb(row)

    async def DeleteListEntry(self, request: risk_pb2.DeleteListEntryRequest, context: grpc.aio.ServicerContext
                              ) -> risk_pb2.DeleteListEntryResponse:
        deleted = await self.service.delete_list_entry(request.list, request.kind, request.value,
                                                       _actor())
        return risk_pb2.DeleteListEntryResponse(deleted=deleted)

    async def ListListEntries(self, request: risk_pb2.ListListEntriesRequest, context: grpc.aio.ServicerContext
                              ) -> risk_pb2.ListListEntriesResponse:
        rows = await self.service.list_entries(request.list, request.kind, request.limit,
                                               (request.after_kind, request.after_value), request.include_expired)
        return risk_pb2.ListListEntriesResponse(entries=[_entry_pb(r) for r in rows])

    # --- lockouts -------------------------------------------------------------------------------------

    async def GetLockout(self, request: risk_pb2.GetLockoutRequest, context: grpc.aio.ServicerContext
                         ) -> risk_pb2.Lockout:
        return await self._lockout_pb(request.kind, request.value)

    async def ClearLockout(self, request: risk_pb2.ClearLockoutRequest, context: grpc.aio.ServicerContext
                           ) -> risk_pb2.Lockout:
        await self.service.clear_lockout(request.kind, request.value, _actor(), request.reason)
        return await self._lockout_pb(request.kind, request.value)

    async def _lockout_pb(self, kind: str, value: str) -> risk_pb2.Lockout:
        until, recent = await self.service.lockout(kind, value)
        pb = risk_pb2.Lockout(kind=kind, value=value, locked=until is not None, recent_failures=recent)
        if until is not None:
            pb.locked_until.CopyFrom(to_timestamp(until))
        return pb


def _entry_pb(row: Any) -> risk_pb2.ListEntry:
    pb = risk_pb2.ListEntry(list=row["list"], kind=row["kind"], value=row["value"], reason=row["reason"],
                            created_by=_staff(row["created_by"]), created_at=to_timestamp(row["created_at"]))
    expires: datetime | None = row["expires_at"]
    if expires is not None:
        pb.expires_at.CopyFrom(to_timestamp(expires))
    return pb
