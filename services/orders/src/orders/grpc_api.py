"""The OrdersService gRPC servicer: proto in, domain calls, proto out. Errors are raised, never set here."""

from __future__ import annotations

import re

import grpc

from orders import convert
from orders.domain.errors import InvalidRequest
from orders.domain.models import RechargeRequest, RiskDecision
from orders.service import OrdersService
from topup.orders.v1 import orders_pb2, orders_pb2_grpc
from topup_platform.errors import DomainError

CHANNEL_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9_\-.:]{1,64}$")


def _validate_create(request: orders_pb2.CreateRechargeRequest) -> RechargeRequest:
    if not request.channel_id:
        raise InvalidRequest("channel_id is required")
    if not CHANNEL_ORDER_ID_RE.match(request.channel_order_id):
        raise InvalidRequest("channel_order_id must be 1-64 characters of letters, digits, _ - . :")
    if not request.sku:
        raise InvalidRequest("sku is required")
    if not 1 <= len(request.payment.transaction_id) <= 128:
        raise InvalidRequest("payment.transaction_id must be 1-128 characters")
    if request.payment.paid_fen <= 0:
        raise InvalidRequest("payment.paid_fen must be a positive number of fen")
    if len(request.notify_url) > 512:
        raise InvalidRequest("notify_url is too long")
    return RechargeRequest(
        channel_id=request.channel_id,
        channel_order_id=request.channel_order_id,
        account=convert.account_from_pb(request.account),
        sku=request.sku,
        payment=convert.payment_from_pb(request.payment),
        notify_url=request.notify_url,
    )


class OrdersServicer(orders_pb2_grpc.OrdersServiceServicer):
    def __init__(self, service: OrdersService) -> None:
        self.service = service

    async def CreateRecharge(
        self, request: orders_pb2.CreateRechargeRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.CreateRechargeResponse:
        req = _validate_create(request)
        decision = convert.decision_from_pb(request.risk_decision)
        order, replayed = await self.service.create_recharge(req, decision)
        return orders_pb2.CreateRechargeResponse(order=order, replayed=replayed)

    async def CreateRechargeBatch(
        self, request: orders_pb2.CreateRechargeBatchRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.CreateRechargeBatchResponse:
        results = [orders_pb2.CreateRechargeResult() for _ in request.items]
        valid: list[tuple[int, tuple[RechargeRequest, RiskDecision, dict[str, str]]]] = []
        for i, item in enumerate(request.items):
            try:
                # Each item's events carry its own request's trace context, not the batch call's.
                valid.append((i, (_validate_create(item), convert.decision_from_pb(item.risk_decision),
                                  dict(item.trace_context))))
            except DomainError as err:
                results[i].error.CopyFrom(err.to_error_pb())
        created = await self.service.create_recharges([args for _, args in valid])
        for (i, _), outcome in zip(valid, created, strict=True):
            if isinstance(outcome, DomainError):
                results[i].error.CopyFrom(outcome.to_error_pb())
            else:
                order, replayed = outcome
                results[i].created.CopyFrom(orders_pb2.CreateRechargeResponse(order=order, replayed=replayed))
        return orders_pb2.CreateRechargeBatchResponse(results=results)

    async def GetOrder(
        self, request: orders_pb2.GetOrderRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.Order:
        order = await self.service.get_order(request.order_id, request.channel_id,
                                             include_history=request.include_history)
        return convert.order_to_pb(order, with_history=request.include_history)

    async def GetOrderByChannelOrderId(
        self, request: orders_pb2.GetOrderByChannelOrderIdRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.Order:
        if not request.channel_id or not request.channel_order_id:
            raise InvalidRequest("channel_id and channel_order_id are required")
        order = await self.service.get_by_channel_order_id(request.channel_id, request.channel_order_id,
                                                           include_history=request.include_history)
        return convert.order_to_pb(order, with_history=request.include_history)

    async def ListProducts(
        self, request: orders_pb2.ListProductsRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.ListProductsResponse:
        account = convert.account_from_pb(request.account)
        carrier, offer = await self.service.list_products(request.channel_id, account)
        return orders_pb2.ListProductsResponse(account=convert.account_to_pb(account), carrier=carrier,
                                               products=[convert.product_to_pb(p) for p in offer])
