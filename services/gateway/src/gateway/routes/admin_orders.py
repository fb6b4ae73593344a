"""Admin API: orders across channels (staff only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway import render
from gateway.admin_auth import Role, Staff, require
from gateway.responses import FastJSON
from gateway.routes.recharges import _ERRORS
from gateway.schemas import OrderOut
from gateway.upstream import Upstream, call
from topup.orders.v1 import orders_pb2

router = APIRouter(prefix="/admin/v1", tags=["admin: orders"])


@router.get("/orders/{order_id}", response_model=OrderOut, responses=_ERRORS,
            summary="Any channel's order, with its status history")
async def get_order(order_id: str, request: Request,
                    staff: Annotated[Staff, Depends(require(Role.REVIEWER, Role.FINANCE))]) -> FastJSON:
    upstream: Upstream = request.app.state.upstream
    order = await call(upstream.orders.GetOrder(
        orders_pb2.GetOrderRequest(order_id=order_id, include_history=True),
        timeout=request.app.state.settings.orders_timeout_seconds,
    ))
    return FastJSON({**render.order(order, with_history=True), "channel_id": order.channel_id})
