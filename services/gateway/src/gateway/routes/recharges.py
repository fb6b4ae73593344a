"""POST /v1/recharges, GET /v1/recharges/{order_id}, GET /v1/recharges?channel_order_id=…

The synchronous path is: signature and nonce → risk decision (gRPC) → order creation (gRPC), nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import structlog
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ValidationError

from gateway import render
from gateway.auth import AuthenticatedChannel
from gateway.callback_net import NotifyUrlChecker
from gateway.channels import Channel
from gateway.errors import ApiError
from gateway.responses import FastJSON
from gateway.schemas import ErrorOut, OrderOut, RechargeIn, RiskContext
from gateway.upstream import Upstream, call
from topup.common.v1 import common_pb2
from topup.orders.v1 import orders_pb2
from topup.risk.v1 import risk_pb2
from topup_platform import identifiers as ids
from topup_platform import telemetry, vocab
from topup_platform.timeutil import to_timestamp, utcnow

router = APIRouter(tags=["recharges"])
T = TypeVar("T", bound=BaseModel)

_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorOut} for s in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
}


def risk_request(channel_id: str, channel_order_id: str, account: common_pb2.Account, ctx: RiskContext | None,
                 action: str, trace_context: dict[str, str], *, sku: str = "", amount_fen: int = 0,
                 payment: common_pb2.Payment | None = None) -> risk_pb2.EvaluateRequest:
    """The risk engine's view of one attempt (one decision per channel_order_id)."""
    return risk_pb2.EvaluateRequest(
        idempotency_key=f"{channel_id}:{channel_order_id}", channel_id=channel_id, account=account, sku=sku,
        amount_fen=amount_fen, payment=payment, device_id=(ctx.device_id if ctx else None) or "",
        ip=(ctx.ip if ctx else None) or "", user_id=(ctx.user_id if ctx else None) or "",
        occurred_at=to_timestamp(utcnow()), action=action, trace_context=trace_context,
    )


async def decide(upstream: Upstream, request: risk_pb2.EvaluateRequest) -> risk_pb2.Decision:
    """The decision; CHALLENGE is answered here (the channel must step up verification and try again)."""
    decision = await upstream.evaluate(request)
    if decision.outcome == risk_pb2.OUTCOME_CHALLENGE:
        raise ApiError("RISK_CHALLENGE_REQUIRED", details={"decision_id": decision.decision_id,
                                                           "reason_code": decision.reason_code})
    return decision


def account_pb(account_type: str, account_id: str) -> common_pb2.Account:
    """The account, its id checked against its type's ASCII pattern (matched whole) before it reaches the risk
    engine, the order core or BOSS: a fullwidth digit or a trailing newline would be another key everywhere."""
    if not ids.valid_account(account_type, account_id):
        raise ApiError("ACCOUNT_INVALID", details={"account_type": account_type})
    return common_pb2.Account(type=vocab.ACCOUNT_TYPES[account_type], id=account_id)


def check_order_id(order_id: str) -> str:
    """An order id is a UUID in its canonical form; anything else names no order."""
    if not ids.matches(ids.UUID_TEXT, order_id):
        raise ApiError("ORDER_NOT_FOUND")
    return order_id


async def check_notify_url(request: Request, channel: Channel, notify_url: str | None) -> None:
    """A notify_url must be under one of the channel's registered prefixes and reach no internal address."""
    checker: NotifyUrlChecker = request.app.state.notify_urls
    await checker.check(notify_url, channel.callback_url_prefixes)


def parse_body(model: type[T], raw: bytes) -> T:
    try:
        return model.model_validate_json(raw)
    except ValidationError as err:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in err.errors()]
        raise ApiError("INVALID_REQUEST", "the body does not match the schema", details={"fields": fields}) from None


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


@router.post(
    "/v1/recharges",
    status_code=201,
    response_model=OrderOut,
    responses={200: {"model": OrderOut, "description": "The same request again: the stored response",
                     "headers": {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}}},
               **_ERRORS},
    openapi_extra=openapi_body(RechargeIn),
    summary="Create a recharge order (idempotent on channel_order_id)",
)
async def create_recharge(request: Request, channel: AuthenticatedChannel) -> FastJSON:
    body = parse_body(RechargeIn, request.state.raw_body)
    structlog.contextvars.bind_contextvars(channel_order_id=body.channel_order_id)
    await check_notify_url(request, channel, body.notify_url)
    upstream: Upstream = request.app.state.upstream
    if not ids.matches(ids.TRANSACTION_ID, body.payment.transaction_id):
        raise ApiError("PAYMENT_TRANSACTION_ID_INVALID", details={"pattern": ids.TRANSACTION_ID})
    account = account_pb(body.account.type, body.account.id)
    payment = common_pb2.Payment(method=vocab.PAYMENT_METHODS[body.payment.method],
                                 transaction_id=body.payment.transaction_id, paid_fen=body.payment.paid_fen,
                                 payer_account=body.payment.payer_account or "")
    trace_context = telemetry.inject_context()
    decision = await decide(upstream, risk_request(
        channel.channel_id, body.channel_order_id, account, body.risk_context, "recharge", trace_context,
        sku=body.sku, amount_fen=body.payment.paid_fen, payment=payment))
    created = await upstream.create_recharge(orders_pb2.CreateRechargeRequest(
        channel_id=channel.channel_id, channel_order_id=body.channel_order_id, account=account, sku=body.sku,
        payment=payment, notify_url=body.notify_url or "", risk_decision=decision, trace_context=trace_context,
    ))
    structlog.contextvars.bind_contextvars(order_id=created.order.order_id)
    return FastJSON(render.order(created.order), status_code=200 if created.replayed else 201,
                          headers={"Idempotent-Replayed": "true"} if created.replayed else None)


@router.get("/v1/recharges/{order_id}", response_model=OrderOut, responses=_ERRORS, summary="One order")
async def get_recharge(
    order_id: str, request: Request, channel: AuthenticatedChannel,
    include_history: Annotated[bool, Query(description="Add the order's status history")] = False,
) -> FastJSON:
    upstream: Upstream = request.app.state.upstream
    order = await call(upstream.orders.GetOrder(
        orders_pb2.GetOrderRequest(order_id=check_order_id(order_id), channel_id=channel.channel_id,
                                   include_history=include_history),
        timeout=request.app.state.settings.orders_timeout_seconds,
    ))
    return FastJSON(render.order(order, with_history=include_history))


@router.get("/v1/recharges", response_model=OrderOut, responses=_ERRORS, summary="One order by your channel_order_id")
async def find_recharge(
    request: Request, channel: AuthenticatedChannel,
    channel_order_id: Annotated[str | None, Query(max_length=64)] = None,
    include_history: Annotated[bool, Query(description="Add the order's status history")] = False,
) -> FastJSON:
    if not channel_order_id:
        raise ApiError("INVALID_REQUEST", "channel_order_id is required")
    if not ids.matches(ids.CHANNEL_ORDER_ID, channel_order_id):
        raise ApiError("INVALID_REQUEST", f"channel_order_id must match {ids.CHANNEL_ORDER_ID}")
    upstream: Upstream = request.app.state.upstream
    order = await call(upstream.orders.GetOrderByChannelOrderId(
        orders_pb2.GetOrderByChannelOrderIdRequest(channel_id=channel.channel_id, channel_order_id=channel_order_id,
                                                   include_history=include_history),
        timeout=request.app.state.settings.orders_timeout_seconds,
    ))
    return FastJSON(render.order(order, with_history=include_history))
