"""Admin API: the manual review desk (人工复核, F10).

Cases open themselves (an order UNDER_REVIEW, an order stuck for 30 minutes, a refund that failed for good,
a reconciliation discrepancy). Staff take them, and resolve them with one of the actions the case allows;
at or above the four-eyes threshold an action is proposed by one person and carried out when another
approves it. Every step is in the case's audit trail: who, in which role, when, why, before and after.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from gateway import render
from gateway.admin_auth import Role, Staff, require
from gateway.responses import FastJSON
from gateway.routes.recharges import _ERRORS, openapi_body, parse_body
from gateway.schemas import (
    AssignmentIn,
    CaseDecisionIn,
    CaseStatus,
    ProposalDecisionIn,
    ReviewCaseOut,
    ReviewCasesPage,
)
from gateway.upstream import Upstream, call
from topup.refunds.v1 import refunds_pb2

router = APIRouter(prefix="/admin/v1", tags=["admin: review desk"])
Staffer = Annotated[Staff, Depends(require(Role.REVIEWER, Role.FINANCE))]
CaseKind = Annotated[str | None, Query(pattern="^(ORDER_UNDER_REVIEW|REFUND_FAILED|RECONCILIATION_DISCREPANCY|"
                                               "REFUND_AFTER_CREDIT|REFUND_REFUSED)$")]


def staff_pb(staff: Staff) -> refunds_pb2.Staff:
    return refunds_pb2.Staff(id=staff.id, roles=sorted(r.value for r in staff.roles))


def _timeout(request: Request) -> float:
    return float(request.app.state.settings.desk_timeout_seconds)


def _one(case: refunds_pb2.ReviewCase) -> FastJSON:
    return FastJSON(render.review_case(case, with_actions=True))


@router.get("/review-cases", response_model=ReviewCasesPage, responses=_ERRORS,
            summary="The review queue (status=OPEN: oldest first), or any cases (newest first)")
async def list_cases(request: Request, staff: Staffer, status: CaseStatus | None = None, kind: CaseKind = None,
                     assignee: Annotated[str | None, Query(max_length=64)] = None,
                     order_id: Annotated[str | None, Query(max_length=64)] = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50,
                     cursor: Annotated[str | None, Query(max_length=200)] = None) -> FastJSON:
    upstream: Upstream = request.app.state.upstream
    page = await call(upstream.refunds.ListCases(refunds_pb2.ListCasesRequest(
        status=status or "", kind=kind or "", assignee=assignee or "", order_id=order_id or "", limit=limit,
        cursor=cursor or ""), timeout=_timeout(request)))
    return FastJSON({"cases": [render.review_case(c) for c in page.cases], "next_cursor": page.next_cursor or None})


@router.get("/review-cases/{case_id}", response_model=ReviewCaseOut, responses=_ERRORS,
            summary="One case with its audit trail")
async def get_case(case_id: str, request: Request, staff: Staffer) -> FastJSON:
    upstream: Upstream = request.app.state.upstream
    return _one(await call(upstream.refunds.GetCase(refunds_pb2.GetCaseRequest(case_id=case_id),
                                                    timeout=_timeout(request))))


@router.post("/review-cases/{case_id}/assignment", response_model=ReviewCaseOut, responses=_ERRORS,
             openapi_extra=openapi_body(AssignmentIn), summary="Take a case (or give it to someone)")
async def assign(case_id: str, request: Request, staff: Staffer) -> FastJSON:
    body = parse_body(AssignmentIn, await request.body() or b"{}")
    upstream: Upstream = request.app.state.upstream
    return _one(await call(upstream.refunds.AssignCase(refunds_pb2.AssignCaseRequest(
        case_id=case_id, assignee=body.assignee, staff=staff_pb(staff)), timeout=_timeout(request))))


@router.post("/review-cases/{case_id}/decisions", response_model=ReviewCaseOut, responses=_ERRORS,
             openapi_extra=openapi_body(CaseDecisionIn),
             summary="Resolve a case; at or above the four-eyes threshold the action is only proposed "
                     "(status AWAITING_SECOND_APPROVAL)")
async def decide(case_id: str, request: Request, staff: Staffer) -> FastJSON:
    body = parse_body(CaseDecisionIn, await request.body())
    upstream: Upstream = request.app.state.upstream
    return _one(await call(upstream.refunds.DecideCase(refunds_pb2.DecideCaseRequest(
        case_id=case_id, action=body.action, reason=body.reason, reference=body.reference, staff=staff_pb(staff)),
        timeout=_timeout(request))))


@router.post("/review-cases/{case_id}/proposal/approval", response_model=ReviewCaseOut, responses=_ERRORS,
             openapi_extra=openapi_body(ProposalDecisionIn),
             summary="Second signature (four eyes): another member of staff carries out the proposed action")
async def approve(case_id: str, request: Request, staff: Staffer) -> FastJSON:
    body = parse_body(ProposalDecisionIn, await request.body())
    upstream: Upstream = request.app.state.upstream
    return _one(await call(upstream.refunds.ApproveProposal(refunds_pb2.ReviewProposalRequest(
        case_id=case_id, reason=body.reason, staff=staff_pb(staff)), timeout=_timeout(request))))


@router.post("/review-cases/{case_id}/proposal/decline", response_model=ReviewCaseOut, responses=_ERRORS,
             openapi_extra=openapi_body(ProposalDecisionIn), summary="Decline (or withdraw) the proposed action")
async def decline(case_id: str, request: Request, staff: Staffer) -> FastJSON:
    body = parse_body(ProposalDecisionIn, await request.body())
    upstream: Upstream = request.app.state.upstream
    return _one(await call(upstream.refunds.DeclineProposal(refunds_pb2.ReviewProposalRequest(
        case_id=case_id, reason=body.reason, staff=staff_pb(staff)), timeout=_timeout(request))))
