"""Admin API: refunds to the original payment path (F11), their deadlines, and the working-day calendar
the deadlines run on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from gateway import render
from gateway.admin_auth import Role, Staff, require
from gateway.errors import ApiError
from gateway.responses import FastJSON
from gateway.routes.recharges import _ERRORS, openapi_body, parse_body
from gateway.schemas import CalendarYearIn, CalendarYearOut, DeadlineOut, RefundOut, RefundsPage, RefundStatus
from gateway.upstream import Upstream, call
from topup.common.v1 import common_pb2
from topup.refunds.v1 import refunds_pb2
from topup_platform.logging import get_logger
from topup_platform.timeutil import to_timestamp

log = get_logger(__name__)
router = APIRouter(prefix="/admin/v1", tags=["admin: refunds"])
Staffer = Annotated[Staff, Depends(require(Role.REVIEWER, Role.FINANCE))]
Finance = Annotated[Staff, Depends(require(Role.FINANCE))]
_STATUS: dict[str, refunds_pb2.RefundStatus] = {
    "REQUESTED": refunds_pb2.REFUND_STATUS_REQUESTED, "SUBMITTED": refunds_pb2.REFUND_STATUS_SUBMITTED,
    "SETTLED": refunds_pb2.REFUND_STATUS_SETTLED, "FAILED": refunds_pb2.REFUND_STATUS_FAILED,
    "CANCELLED": refunds_pb2.REFUND_STATUS_CANCELLED}


def _timeout(request: Request) -> float:
    return float(request.app.state.settings.desk_timeout_seconds)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ApiError("INVALID_REQUEST", f"{name} needs a time zone, e.g. 2026-10-09T15:00:00+08:00")
    return value


@router.get("/refunds", response_model=RefundsPage, responses=_ERRORS,
            summary="Refunds, soonest deadline first; due_within_hours gives those near (or past) their deadline")
async def list_refunds(
    request: Request, staff: Staffer,
    status: Annotated[list[RefundStatus] | None, Query(description="Any of these statuses")] = None,
    due_within_hours: Annotated[float | None, Query(gt=0, le=24 * 30,
                                                    description="Not settled, deadline within this many hours "
                                                                "(or already past)")] = None,
    channel_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> FastJSON:
    req = refunds_pb2.ListRefundsRequest(
        statuses=[_STATUS[s] for s in status or []],
        channel_id=channel_id or "", limit=limit, cursor=cursor or "")
    if due_within_hours is not None:
        req.due_before.CopyFrom(to_timestamp(datetime.now(UTC) + timedelta(hours=due_within_hours)))
    upstream: Upstream = request.app.state.upstream
    page = await call(upstream.refunds.ListRefunds(req, timeout=_timeout(request)))
    return FastJSON({"refunds": [render.refund(r) for r in page.refunds], "next_cursor": page.next_cursor or None})


async def _refund(request: Request, lookup: refunds_pb2.GetRefundRequest) -> FastJSON:
    upstream: Upstream = request.app.state.upstream
    found = await call(upstream.refunds.GetRefund(lookup, timeout=_timeout(request)))
    return FastJSON(render.refund(found, with_events=True))


@router.get("/refunds/{refund_id}", response_model=RefundOut, responses=_ERRORS,
            summary="One refund with its trail (submissions, queries, notices)")
async def get_refund(refund_id: str, request: Request, staff: Staffer) -> FastJSON:
    return await _refund(request, refunds_pb2.GetRefundRequest(refund_id=refund_id))


@router.get("/orders/{order_id}/refund", response_model=RefundOut, responses=_ERRORS,
            summary="The refund of an order, if it has one")
async def get_order_refund(order_id: str, request: Request, staff: Staffer) -> FastJSON:
    return await _refund(request, refunds_pb2.GetRefundRequest(order_id=order_id))


@router.get("/refund-calendar/deadline", response_model=DeadlineOut, responses=_ERRORS,
            summary="The refund deadline of a failure confirmed at a given instant")
async def deadline(request: Request, staff: Staffer,
                   confirmed_at: Annotated[datetime, Query(description="ISO 8601 with a time zone")]) -> FastJSON:
    upstream: Upstream = request.app.state.upstream
    answer = await call(upstream.refunds.ComputeDeadline(refunds_pb2.ComputeDeadlineRequest(
        confirmed_at=to_timestamp(_aware(confirmed_at, "confirmed_at"))), timeout=_timeout(request)))
    return FastJSON({"confirmed_at": confirmed_at.isoformat(), "deadline_at": render._time(answer.deadline_at),
                     "working_day": answer.working_day})


@router.get("/refund-calendar/{year}", response_model=CalendarYearOut, responses=_ERRORS,
            summary="A year of the working-day calendar: public holidays and make-up working days (调休)")
async def get_year(year: int, request: Request, staff: Staffer) -> FastJSON:
    if not 2000 <= year <= 2100:
        raise ApiError("INVALID_REQUEST", "the year must be between 2000 and 2100")
    upstream: Upstream = request.app.state.upstream
    return FastJSON(render.calendar_year(await call(upstream.refunds.GetCalendarYear(
        refunds_pb2.GetCalendarYearRequest(year=year), timeout=_timeout(request)))))


@router.put("/refund-calendar/{year}", response_model=CalendarYearOut, responses=_ERRORS,
            openapi_extra=openapi_body(CalendarYearIn),
            summary="Set a year's holidays and make-up working days (as the State Council publishes them)")
async def put_year(year: int, request: Request, staff: Finance) -> FastJSON:
    body = parse_body(CalendarYearIn, await request.body())
    upstream: Upstream = request.app.state.upstream
    saved = await call(upstream.refunds.SetCalendarYear(refunds_pb2.SetCalendarYearRequest(
        calendar=refunds_pb2.CalendarYear(year=year, holidays=[d.isoformat() for d in body.holidays],
                                          working_weekends=[d.isoformat() for d in body.working_weekends]),
        actor=common_pb2.Actor(kind=common_pb2.Actor.KIND_STAFF, id=staff.id)), timeout=_timeout(request)))
    log.info("refund calendar year set", year=year, by=staff.id)
    return FastJSON(render.calendar_year(saved))
