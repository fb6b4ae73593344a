"""POST /v1/voucher-redemptions: a voucher card (卡券) pays for a recharge.

The risk engine decides first (a PIN brute-force lockout refuses at once); then the order core claims the
card by its PIN and creates the order, exactly once under any concurrency.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request

from gateway import render
from gateway.auth import AuthenticatedChannel
from gateway.errors import ApiError
from gateway.responses import FastJSON
from gateway.routes.recharges import (
    _ERRORS,
    account_pb,
    check_notify_url,
    decide,
    openapi_body,
    parse_body,
    risk_request,
)
from gateway.schemas import OrderOut, RedemptionIn
from gateway.upstream import Upstream, call
from topup.common.v1 import common_pb2
from topup.orders.v1 import orders_pb2
from topup.risk.v1 import risk_pb2
from topup_platform import telemetry

router = APIRouter(tags=["vouchers"])


@router.post(
    "/v1/voucher-redemptions",
    status_code=201,
    response_model=OrderOut,
    responses={200: {"model": OrderOut, "description": "The same request again: the stored response",
                     "headers": {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}}},
               **_ERRORS},
    openapi_extra=openapi_body(RedemptionIn),
    summary="Redeem a voucher card for an account (idempotent on channel_order_id)",
)
async def redeem(request: Request, channel: AuthenticatedChannel) -> FastJSON:
    body = parse_body(RedemptionIn, request.state.raw_body)
    structlog.contextvars.bind_contextvars(channel_order_id=body.channel_order_id)
    await check_notify_url(request, channel, body.notify_url)
    upstream: Upstream = request.app.state.upstream
    account = account_pb(body.account.type, body.account.id)
    trace_context = telemetry.inject_context()
    decision = await decide(upstream, risk_request(
        channel.channel_id, body.channel_order_id, account, body.risk_context, "voucher_redemption", trace_context,
        payment=common_pb2.Payment(method=common_pb2.PAYMENT_METHOD_VOUCHER)))
    if decision.outcome == risk_pb2.OUTCOME_DENY:
        # Nothing was taken from the card; a locked-out account, device or IP waits out the lockout.
        code = "VOUCHER_LOCKED_OUT" if decision.reason_code == "VOUCHER_LOCKED_OUT" else "RISK_DENIED"
        raise ApiError(code, details={"decision_id": decision.decision_id, "reason_code": decision.reason_code})
    ctx = body.risk_context
    created: orders_pb2.CreateRechargeResponse = await call(upstream.orders.RedeemVoucher(
        orders_pb2.RedeemVoucherRequest(
            channel_id=channel.channel_id, channel_order_id=body.channel_order_id, account=account, pin=body.pin,
            notify_url=body.notify_url or "", risk_decision=decision, device_id=(ctx.device_id if ctx else None) or "",
            ip=(ctx.ip if ctx else None) or "", user_id=(ctx.user_id if ctx else None) or "",
            trace_context=trace_context),
        timeout=request.app.state.settings.orders_timeout_seconds,
    ))
    structlog.contextvars.bind_contextvars(order_id=created.order.order_id)
    return FastJSON(render.order(created.order), status_code=200 if created.replayed else 201,
                    headers={"Idempotent-Replayed": "true"} if created.replayed else None)
