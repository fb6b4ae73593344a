"""GET /v1/products?account=…: the pre-flight."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from gateway import render
from gateway.auth import AuthenticatedChannel
from gateway.errors import ApiError
from gateway.responses import FastJSON
from gateway.routes.recharges import _ERRORS, account_pb
from gateway.schemas import ProductsOut
from gateway.upstream import Upstream, call
from topup.orders.v1 import orders_pb2

router = APIRouter(tags=["products"])


@router.get("/v1/products", response_model=ProductsOut, responses=_ERRORS,
            summary="Whether we serve an account, and what this channel may sell to it, with prices")
async def list_products(
    request: Request, channel: AuthenticatedChannel,
    account: Annotated[str | None, Query(max_length=32, description="Mobile number or broadband account id")] = None,
    account_type: Annotated[Literal["mobile", "broadband"] | None, Query(
        description="Defaults from the id's format (mobile numbers start with 1, broadband ids with 0)")] = None,
) -> FastJSON:
    if not account:
        raise ApiError("INVALID_REQUEST", "account is required")
    kind = account_type or ("broadband" if account.startswith("0") else "mobile")
    upstream: Upstream = request.app.state.upstream
    offer = await call(upstream.orders.ListProducts(
        orders_pb2.ListProductsRequest(
            channel_id=channel.channel_id,
            account=account_pb(kind, account),
        ),
        timeout=request.app.state.settings.orders_timeout_seconds,
    ))
    return FastJSON(render.products(offer))
