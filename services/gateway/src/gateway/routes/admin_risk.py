"""Admin API: the risk engine's rules, lists, lockouts and decisions (staff only).

Rule-sets are versioned documents (format: `risk.domain.rules` in services/risk): create a version (validated
by the risk engine, stored, not deployed), run it in shadow beside the live one and compare, then make it
live; every risk replica applies it within seconds. Reading is open to reviewers; changing rules and lists,
and lifting a voucher lockout early (identity confirmed), need the admin role.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.admin_auth import Role, Staff, require
from gateway.auth import read_body
from gateway.errors import ApiError
from gateway.responses import FastJSON
from gateway.routes.recharges import _ERRORS
from gateway.upstream import Upstream, call
from topup.common.v1 import common_pb2
from topup.risk.v1 import risk_pb2

router = APIRouter(prefix="/admin/v1/risk", tags=["admin: risk"])

Admin = Annotated[Staff, Depends(require(Role.ADMIN))]
Reader = Annotated[Staff, Depends(require(Role.REVIEWER))]
#: a rule-set version (an int32 in the risk schema: larger numbers are refused here, not overflowed there)
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
ListName = Annotated[Literal["block", "allow"], Path(description="block or allow")]
ListKind = Annotated[Literal["account", "payer", "device", "ip", "channel"],
                     Path(description="what the entry names; a payer is `<payment method>:<payer account>`")]
LockoutKind = Annotated[Literal["account", "device", "ip"], Path()]
Value = Annotated[str, Path(min_length=1, max_length=256)]
MAX_BODY = 256 * 1024

_OUTCOME = {v: risk_pb2.Outcome.Name(v).removeprefix("OUTCOME_") for v in risk_pb2.Outcome.values()}
_STATUS = {v: risk_pb2.RuleSetStatus.Name(v).removeprefix("RULE_SET_STATUS_")
           for v in risk_pb2.RuleSetStatus.values()}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleSetIn(_Body):
    ruleset: dict[str, Any] = Field(description="The rule-set document (windows, thresholds, lockout, rules)")
    note: str = Field("", max_length=500, description="Why this version")
    validate_only: bool = Field(False, description="Check it, store nothing")


class DeployIn(_Body):
    mode: Literal["live", "shadow"]
    note: str = Field("", max_length=500)


class ListEntryIn(_Body):
    reason: str = Field(min_length=1, max_length=500)
    expires_at: datetime | None = Field(None, description="When the entry stops applying (default: never)")
    ttl_seconds: int | None = Field(None, gt=0, le=10 * 365 * 86400, description="Or: for this many seconds")


class LockoutClearIn(_Body):
    reason: str = Field(min_length=1, max_length=500, description="How the subscriber's identity was confirmed")


async def _body(request: Request, model: type[_Body]) -> Any:
    raw = await read_body(request, MAX_BODY)
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as err:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in err.errors()]
        raise ApiError("INVALID_REQUEST", "the body does not match the schema", details={"fields": fields}) from None


def _openapi(model: type[_Body]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _actor(staff: Staff) -> common_pb2.Actor:
    return common_pb2.Actor(kind=common_pb2.Actor.KIND_STAFF, id=staff.id)


def _upstream(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.upstream
    return upstream


def _timeout(request: Request) -> float:
    return float(request.app.state.settings.risk_timeout_seconds) * 5


def _time(ts: Timestamp) -> str | None:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime(tzinfo=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _state(pb: risk_pb2.RuleSetState) -> dict[str, Any]:
    return {"live_version": pb.live_version, "shadow_version": pb.shadow_version or None,
            "generation": pb.generation, "changed_at": _time(pb.changed_at), "changed_by": pb.changed_by,
            "this_replica": {"live_version": pb.loaded_live_version,
                             "shadow_version": pb.loaded_shadow_version or None}}


def _ruleset(pb: risk_pb2.RuleSet) -> dict[str, Any]:
    out: dict[str, Any] = {"version": pb.version or None, "status": _STATUS[pb.status], "note": pb.note,
                           "created_by": pb.created_by.id, "created_at": _time(pb.created_at)}
    if pb.body_json:
        out["ruleset"] = orjson.loads(pb.body_json)
    return out


def _decision(pb: risk_pb2.Decision) -> dict[str, Any]:
    return {"decision_id": pb.decision_id, "outcome": _OUTCOME[pb.outcome], "score": pb.score,
            "reason_code": pb.reason_code or None, "ruleset_version": pb.ruleset_version,
            "decided_at": _time(pb.decided_at),
            "rules_fired": [{"rule_id": h.rule_id, "description": h.description, "outcome": _OUTCOME[h.outcome],
                             "score": h.score} for h in pb.rules_fired]}


def _entry(pb: risk_pb2.ListEntry) -> dict[str, Any]:
    return {"list": pb.list, "kind": pb.kind, "value": pb.value, "expires_at": _time(pb.expires_at),
            "reason": pb.reason, "created_by": pb.created_by.id, "created_at": _time(pb.created_at)}


def _lockout(pb: risk_pb2.Lockout) -> dict[str, Any]:
    return {"kind": pb.kind, "value": pb.value, "locked": pb.locked, "locked_until": _time(pb.locked_until),
            "recent_failures": pb.recent_failures}


# --- rule-sets ---------------------------------------------------------------------------------------------

@router.get("/rulesets", responses=_ERRORS, summary="Rule-set versions, newest first, and which are deployed")
async def list_rulesets(request: Request, staff: Reader,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50) -> FastJSON:
    reply = await call(_upstream(request).risk.ListRuleSets(risk_pb2.ListRuleSetsRequest(limit=limit),
                                                            timeout=_timeout(request)))
    return FastJSON({"state": _state(reply.state), "rulesets": [_ruleset(r) for r in reply.rule_sets]})


@router.post("/rulesets", status_code=201, responses={422: _ERRORS[422], **_ERRORS}, openapi_extra=_openapi(RuleSetIn),
             summary="Store a new rule-set version (validated; not deployed)")
async def create_ruleset(request: Request, staff: Admin) -> FastJSON:
    body: RuleSetIn = await _body(request, RuleSetIn)
    reply = await call(_upstream(request).risk.CreateRuleSet(risk_pb2.CreateRuleSetRequest(
        body_json=orjson.dumps(body.ruleset).decode(), note=body.note, actor=_actor(staff),
        validate_only=body.validate_only), timeout=_timeout(request)))
    return FastJSON(_ruleset(reply), status_code=200 if body.validate_only else 201)


@router.get("/rulesets/{version}", responses=_ERRORS, summary="One rule-set version, with its document")
async def get_ruleset(request: Request, staff: Reader, version: Version) -> FastJSON:
    reply = await call(_upstream(request).risk.GetRuleSet(risk_pb2.GetRuleSetRequest(version=version),
                                                          timeout=_timeout(request)))
    return FastJSON(_ruleset(reply))


@router.post("/rulesets/{version}/deploy", responses=_ERRORS, openapi_extra=_openapi(DeployIn),
             summary="Make a version live (enforced) or run it in shadow (recorded and compared, not enforced)")
async def deploy_ruleset(request: Request, staff: Admin, version: Version) -> FastJSON:
    body: DeployIn = await _body(request, DeployIn)
    mode = risk_pb2.DEPLOY_MODE_LIVE if body.mode == "live" else risk_pb2.DEPLOY_MODE_SHADOW
    reply = await call(_upstream(request).risk.DeployRuleSet(risk_pb2.DeployRuleSetRequest(
        version=version, mode=mode, actor=_actor(staff), note=body.note), timeout=_timeout(request)))
    return FastJSON(_state(reply))


@router.delete("/shadow", responses=_ERRORS, summary="Stop the shadow run")
async def stop_shadow(request: Request, staff: Admin) -> FastJSON:
    reply = await call(_upstream(request).risk.StopShadow(risk_pb2.StopShadowRequest(actor=_actor(staff)),
                                                          timeout=_timeout(request)))
    return FastJSON(_state(reply))


@router.get("/state", responses=_ERRORS, summary="Which versions are live and in shadow")
async def state(request: Request, staff: Reader) -> FastJSON:
    reply = await call(_upstream(request).risk.GetRuleSetState(risk_pb2.GetRuleSetStateRequest(),
                                                               timeout=_timeout(request)))
    return FastJSON(_state(reply))


@router.get("/rulesets/{version}/shadow-report", responses=_ERRORS,
            summary="How a shadow version's decisions compare with the live ones made at the same time")
async def shadow_report(
    request: Request, staff: Reader, version: Version,
    since: Annotated[datetime | None, Query(description="Decisions from this time on")] = None,
    sample: Annotated[int, Query(ge=0, le=200, description="How many differing decisions to list")] = 20,
) -> FastJSON:
    since_ts = Timestamp()
    if since is not None:
        since_ts.FromDatetime(since if since.tzinfo else since.replace(tzinfo=UTC))
    reply = await call(_upstream(request).risk.CompareShadow(risk_pb2.CompareShadowRequest(
        shadow_version=version, since=since_ts, sample_size=sample), timeout=_timeout(request)))
    return FastJSON({
        "shadow_version": reply.shadow_version, "live_versions": list(reply.live_versions),
        "decisions": reply.decisions, "agreements": reply.agreements,
        "agreement_rate": reply.agreements / reply.decisions if reply.decisions else None,
        "outcomes": [{"live": _OUTCOME[p.live], "shadow": _OUTCOME[p.shadow], "count": p.count} for p in reply.pairs],
        "differences": [{"decision_id": d.decision_id, "live": _OUTCOME[d.live], "shadow": _OUTCOME[d.shadow],
                         "live_rules": list(d.live_rules), "shadow_rules": list(d.shadow_rules),
                         "decided_at": _time(d.decided_at)} for d in reply.differences],
    })


# --- decisions ---------------------------------------------------------------------------------------------

@router.get("/decisions/{decision_id}", responses=_ERRORS,
            summary="One decision (audit): the rules that fired, the inputs and features, the shadow decision")
async def get_decision(request: Request, staff: Reader, decision_id: Annotated[str, Path(max_length=64)]) -> FastJSON:
    pb = await call(_upstream(request).risk.GetDecision(risk_pb2.GetDecisionRequest(decision_id=decision_id),
                                                        timeout=_timeout(request)))
    return FastJSON({**_decision(pb), "inputs": orjson.loads(pb.inputs_json) if pb.inputs_json else None,
                     "shadow": _decision(pb.shadow) if pb.HasField("shadow") else None})


# --- lists -------------------------------------------------------------------------------------------------

@router.get("/lists/{list_name}", responses=_ERRORS, summary="Entries of the block or allow list")
async def list_entries(
    request: Request, staff: Reader, list_name: ListName,
    kind: Annotated[Literal["account", "payer", "device", "ip", "channel"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after_kind: Annotated[str, Query(max_length=16, description="Paging: the last entry's kind")] = "",
    after_value: Annotated[str, Query(max_length=256, description="Paging: the last entry's value")] = "",
    include_expired: bool = False,
) -> FastJSON:
    reply = await call(_upstream(request).risk.ListListEntries(risk_pb2.ListListEntriesRequest(
        list=list_name, kind=kind or "", limit=limit, after_kind=after_kind, after_value=after_value,
        include_expired=include_expired), timeout=_timeout(request)))
    return FastJSON({"entries": [_entry(e) for e in reply.entries]})


@router.put("/lists/{list_name}/{kind}/{value}", responses=_ERRORS, openapi_extra=_openapi(ListEntryIn),
            summary="Put an entry on the block or allow list (replaces the entry's expiry and reason)")
async def put_list_entry(request: Request, staff: Admin, list_name: ListName, kind: ListKind,
                         value: Value) -> FastJSON:
    body: ListEntryIn = await _body(request, ListEntryIn)
    if body.expires_at is not None and body.ttl_seconds is not None:
        raise ApiError("INVALID_REQUEST", "give expires_at or ttl_seconds, not both")
    expires = body.expires_at or (datetime.now(UTC) + timedelta(seconds=body.ttl_seconds)
                                  if body.ttl_seconds else None)
    entry = risk_pb2.ListEntry(list=list_name, kind=kind, value=value, reason=body.reason)
    if expires is not None:
        entry.expires_at.FromDatetime(expires if expires.tzinfo else expires.replace(tzinfo=UTC))
    reply = await call(_upstream(request).risk.PutListEntry(risk_pb2.PutListEntryRequest(
        entry=entry, actor=_actor(staff)), timeout=_timeout(request)))
    return FastJSON(_entry(reply))


@router.delete("/lists/{list_name}/{kind}/{value}", responses=_ERRORS, summary="Take an entry off a list")
async def delete_list_entry(request: Request, staff: Admin, list_name: ListName, kind: ListKind,
                            value: Value) -> FastJSON:
    reply = await call(_upstream(request).risk.DeleteListEntry(risk_pb2.DeleteListEntryRequest(
        list=list_name, kind=kind, value=value, actor=_actor(staff)), timeout=_timeout(request)))
    if not reply.deleted:
        raise ApiError("NOT_FOUND", "no such entry")
    return FastJSON({"deleted": True})


# --- voucher PIN lockouts ----------------------------------------------------------------------------------

@router.get("/lockouts/{kind}/{value}", responses=_ERRORS, summary="Whether an account, device or IP is locked out")
async def get_lockout(request: Request, staff: Reader, kind: LockoutKind, value: Value) -> FastJSON:
    reply = await call(_upstream(request).risk.GetLockout(risk_pb2.GetLockoutRequest(kind=kind, value=value),
                                                          timeout=_timeout(request)))
    return FastJSON(_lockout(reply))


@router.post("/lockouts/{kind}/{value}/clear", responses=_ERRORS, openapi_extra=_openapi(LockoutClearIn),
             summary="Lift a voucher lockout early, once the subscriber's identity is confirmed")
async def clear_lockout(request: Request, staff: Admin, kind: LockoutKind, value: Value) -> FastJSON:
    body: LockoutClearIn = await _body(request, LockoutClearIn)
    reply = await call(_upstream(request).risk.ClearLockout(risk_pb2.ClearLockoutRequest(
        kind=kind, value=value, actor=_actor(staff), reason=body.reason), timeout=_timeout(request)))
    return FastJSON(_lockout(reply))
