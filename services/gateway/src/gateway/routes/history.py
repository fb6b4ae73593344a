"""Recharge history (F12): GET /v1/history (all of a channel's orders) and GET
/v1/accounts/{type}/{id}/recharges (its orders to one account) for a channel, and the admin query across
channels, GET /admin/v1/orders. Newest first, cursor-paginated, every attempt (failed ones too),
each with its status history."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from gateway import render
from gateway.admin_auth import Role, Staff, require
from gateway.auth import AuthenticatedChannel
from gateway.errors import ApiError
from gateway.responses import FastJSON
from gateway.routes.recharges import _ERRORS, account_pb
from gateway.schemas import OrdersPage, OrderStatus
from gateway.upstream import Upstream, call
from topup.common.v1 import common_pb2
from topup.orders.v1 import orders_pb2
from topup_platform.timeutil import to_timestamp

router = APIRouter(tags=["history"])

Statuses = Annotated[list[OrderStatus] | None, Query(description="Any of these statuses")]
Skus = Annotated[list[str] | None, Query(description="Any of these SKUs")]
From = Annotated[datetime | None, Query(alias="from", description="Created at or after (ISO 8601)")]
To = Annotated[datetime | None, Query(alias="to", description="Created before (ISO 8601)")]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page, unchanged; 422 CURSOR_INVALID "
                                                "otherwise")]
WithHistory = Annotated[bool, Query(description="Add each order's status history")]


BEIJING = timezone(timedelta(hours=8), "CST")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
                      r"(Z|[+-][0-9]{2}:?[0-9]{2})")
_RANGE = ("ISO 8601 with an offset (2026-11-24T10:00:00+08:00), or a day YYYY-MM-DD (its start, Beijing time); "
          "422 TIME_RANGE_INVALID otherwise")
FromText = Annotated[str | None, Query(alias="from", description="Created at or after: " + _RANGE)]
ToText = Annotated[str | None, Query(alias="to", description="Created before: " + _RANGE)]
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,200}")


def parse_instant(name: str, text: str | None) -> datetime | None:
    """`from`/`to` of the channel history: an ISO 8601 time with its offset, or a day (its start in Beijing). A
    time without an offset would be read in some zone nobody said: refused, like anything else unparsed."""
    if not text:
        return None
    try:
        if _DAY.fullmatch(text):
            return datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), time(0), tzinfo=BEIJING)
        if _INSTANT.fullmatch(text):
            return datetime.fromisoformat(text)
    except ValueError:
        pass
    raise ApiError("TIME_RANGE_INVALID", f"{name} is not an ISO 8601 time with an offset or a day YYYY-MM-DD",
                   details={"parameter": name})


def _request(*, channel_id: str = "", channels: list[str] | None = None, account: common_pb2.Account | None,
             status: list[OrderStatus] | None, sku: list[str] | None, created_from: datetime | None,
             created_to: datetime | None, limit: int, cursor: str | None,
             include_history: bool) -> orders_pb2.ListOrdersRequest:
    if created_from and created_to and created_from >= created_to:
        raise ApiError("TIME_RANGE_INVALID", "from must be before to", details={"parameter": "from"})
    if cursor and not _CURSOR.fullmatch(cursor):
        raise ApiError("CURSOR_INVALID")
    req = orders_pb2.ListOrdersRequest(
        channel_id=channel_id, channels=channels or [], statuses=[f"ORDER_STATUS_{s}" for s in status or []],
        skus=sku or [], limit=limit, cursor=cursor or "", include_history=include_history)
    if account is not None:
        req.account.CopyFrom(account)
    if created_from:
        req.created_from.CopyFrom(to_timestamp(created_from))
    if created_to:
        req.created_to.CopyFrom(to_timestamp(created_to))
    return req


async def _page(request: Request, req: orders_pb2.ListOrdersRequest, *, with_channel: bool) -> FastJSON:
    upstream: Upstream = request.app.state.upstream
    page: orders_pb2.ListOrdersResponse = await call(upstream.orders.ListOrders(
        req, timeout=request.app.state.settings.orders_timeout_seconds))
    orders = []
    for o in page.orders:
        item = render.order(o, with_history=req.include_history)
        if with_channel:
            item["channel_id"] = o.channel_id
        orders.append(item)
    return FastJSON({"orders": orders, "next_cursor": page.next_cursor or None})


@router.get("/v1/history", response_model=OrdersPage, responses=_ERRORS,
            summary="All your orders, newest first (created in [from, to), any of the statuses), page by page")
async def channel_history(
    request: Request, channel: AuthenticatedChannel, created_from: FromText = None, created_to: ToText = None,
    status: Statuses = None, sku: Skus = None,
    limit: Limit = 50, cursor: Cursor = None, include_history: Annotated[bool, Query(
        description="Add each order's status history")] = False,
) -> FastJSON:
    return await _page(request, _request(
        channel_id=channel.channel_id, account=None, status=status, sku=sku,
        created_from=parse_instant("from", created_from), created_to=parse_instant("to", created_to), limit=limit,
        cursor=cursor, include_history=include_history), with_channel=False)


@router.get("/v1/accounts/{account_type}/{account_id}/recharges", response_model=OrdersPage, responses=_ERRORS,
            summary="Your orders to one account, newest first")
async def account_history(
    request: Request, channel: AuthenticatedChannel, account_type: Literal["mobile", "broadband"], account_id: str,
    status: Statuses = None, sku: Skus = None, created_from: From = None, created_to: To = None, limit: Limit = 50,
    cursor: Cursor = None, include_history: WithHistory = True,
) -> FastJSON:
    account = account_pb(account_type, account_id)
    return await _page(request, _request(channel_id=channel.channel_id, account=account, status=status, sku=sku,
                                         created_from=created_from, created_to=created_to, limit=limit,
                                         cursor=cursor, include_history=include_history), with_channel=False)


@router.get("/admin/v1/orders", response_model=OrdersPage, responses=_ERRORS, tags=["admin: orders"],
            summary="Orders across channels, newest first (staff)")
async def admin_orders(
    request: Request, staff: Annotated[Staff, Depends(require(Role.REVIEWER, Role.FINANCE))],
    channel: Annotated[list[str] | None, Query(description="Any of these channels")] = None,
    account_type: Annotated[Literal["mobile", "broadband"] | None, Query()] = None,
    account_id: Annotated[str | None, Query(max_length=32)] = None,
    status: Statuses = None, sku: Skus = None, created_from: From = None, created_to: To = None, limit: Limit = 50,
    cursor: Cursor = None, include_history: WithHistory = False,
) -> FastJSON:
    if bool(account_type) != bool(account_id):
        raise ApiError("INVALID_REQUEST", "account_type and account_id go together")
    account = account_pb(account_type, account_id or "") if account_type else None
    return await _page(request, _request(channels=channel, account=account, status=status, sku=sku,
                                         created_from=created_from, created_to=created_to, limit=limit,
                                         cursor=cursor, include_history=include_history), with_channel=True)
