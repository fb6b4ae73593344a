"""GET /v1/accounts/{type}/{id}/balance: the subscriber's balance as BOSS reports it, for channels allowed
to ask (permission "balance")."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request

from gateway import render
from gateway.auth import AuthenticatedChannel
from gateway.errors import ApiError
from gateway.responses import FastJSON
from gateway.routes.recharges import _ERRORS, account_pb
from gateway.schemas import BalanceOut
from gateway.upstream import Upstream, call
from topup.billing.v1 import billing_pb2

router = APIRouter(tags=["accounts"])


@router.get("/v1/accounts/{account_type}/{account_id}/balance", response_model=BalanceOut, responses=_ERRORS,
            summary="A subscriber's balance at BOSS (channels with the balance permission)")
async def balance(request: Request, channel: AuthenticatedChannel, account_type: Literal["mobile", "broadband"],
                  account_id: str) -> FastJSON:
    if "balance" not in channel.permissions:
        raise ApiError("CHANNEL_NOT_PERMITTED", details={"needs": "balance"})
    account = account_pb(account_type, account_id)  # before anything goes to BOSS
    upstream: Upstream = request.app.state.upstream
    reply: billing_pb2.Balance = await call(upstream.billing.GetBalance(
        billing_pb2.GetBalanceRequest(account=account),
        timeout=request.app.state.settings.orders_timeout_seconds))
    return FastJSON({"account": render.account(reply.account), "balance_fen": reply.balance_fen,
                     "data_remaining_mb": reply.data_remaining_mb,
                     "as_of": reply.as_of.ToDatetime().isoformat(timespec="milliseconds") + "Z"})
