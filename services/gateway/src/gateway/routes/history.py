"""Recharge history (F12): GET /v1/accounts/{type}/{id}/recharges for a channel, and the admin query
across channels, GET /admin/v1/orders. Newest first, cursor-paginated, every attempt (failed ones too),
each with its status history."""

from __future__ import annotations

from datetime import datetime
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
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")]
WithHistory = Annotated[bool, Query(description="Add each order's status history")]


def _request(*, channel_id: str = "", channels: list[str] | None = None, account: common_pb2.Account | None,
             status: list[OrderStatus] | None, sku: list[str] | None, created_from: datetime | None,
             created_to: datetime | None, limit: int, cursor: str | None,
             include_history: bool) -> orders_pb2.ListOrdersRequest:
    if created_from and created_to and created_from >= created_to:
        raise ApiError("INVALID_REQUEST", "from must be before to")
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
