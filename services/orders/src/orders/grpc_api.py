"""The OrdersService gRPC servicer: proto in, domain calls, proto out. Errors are raised, never set here."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import grpc

from orders import convert, repository
from orders.domain.errors import InvalidRequest, OrderNotFound
from orders.domain.models import RechargeRequest, RiskDecision
from orders.domain.vouchers import CardState, CardTransition
from orders.service import OrdersService
from orders.vouchers import Redemption, VoucherService
from topup.common.v1 import common_pb2
from topup.orders.v1 import orders_pb2, orders_pb2_grpc
from topup_platform import identifiers, staff, telemetry, vocab
from topup_platform.access import AccessPolicy
from topup_platform.errors import DomainError
from topup_platform.timeutil import from_timestamp, to_timestamp

STATUS_FROM_PB = {v: k for k, v in convert.STATUS_TO_PB.items()}
CARD_STATE_TO_PB: dict[CardState, orders_pb2.VoucherState] = {
    CardState.CREATED: orders_pb2.VOUCHER_STATE_CREATED,
    CardState.ACTIVE: orders_pb2.VOUCHER_STATE_ACTIVE,
    CardState.REDEEMING: orders_pb2.VOUCHER_STATE_REDEEMING,
    CardState.REDEEMED: orders_pb2.VOUCHER_STATE_REDEEMED,
    CardState.FROZEN: orders_pb2.VOUCHER_STATE_FROZEN,
    CardState.EXPIRED: orders_pb2.VOUCHER_STATE_EXPIRED,
    CardState.VOID: orders_pb2.VOUCHER_STATE_VOID,
}


def _channel_order_id(value: str) -> str:
    if not identifiers.matches(identifiers.CHANNEL_ORDER_ID, value):
        raise InvalidRequest("channel_order_id must be 1-64 characters of letters, digits, _ - . :")
    return value


def _validate_create(request: orders_pb2.CreateRechargeRequest) -> RechargeRequest:
    if not request.channel_id:
        raise InvalidRequest("channel_id is required")
    if not identifiers.matches(identifiers.TRANSACTION_ID, request.payment.transaction_id):
        # one payment, one spelling: "T1 " or "T1\u200b" would be a second use of the payment "T1"
        raise InvalidRequest(f"payment.transaction_id must match {identifiers.TRANSACTION_ID}",
                             code="PAYMENT_TRANSACTION_ID_INVALID")
    if request.payment.payer_account and not identifiers.matches(identifiers.VISIBLE, request.payment.payer_account):
        raise InvalidRequest("payment.payer_account must be visible ASCII characters")
    if not identifiers.matches(identifiers.SKU, request.sku):
        raise InvalidRequest(f"sku must match {identifiers.SKU}")
    if request.payment.paid_fen <= 0:
        raise InvalidRequest("payment.paid_fen must be a positive number of fen")
    if request.payment.method == common_pb2.PAYMENT_METHOD_VOUCHER:
        raise InvalidRequest("a voucher pays through a voucher redemption, not a recharge")
    if len(request.notify_url) > 512:
        raise InvalidRequest("notify_url is too long")
    return RechargeRequest(
        channel_id=request.channel_id,
        channel_order_id=_channel_order_id(request.channel_order_id),
        account=convert.account_from_pb(request.account),
        sku=request.sku,
        payment=convert.payment_from_pb(request.payment),
        notify_url=request.notify_url,
    )


#: who may call what (the peer's certificate names it): the gateway serves channels and the admin API, the
#: review desk (refunds) carries out staff decisions, operators' tools read and flag stuck orders
ACCESS = AccessPolicy.of(orders_pb2.DESCRIPTOR.services_by_name["OrdersService"], {
    "gateway": ["CreateRecharge", "CreateRechargeBatch", "GetOrder", "GetOrderByChannelOrderId", "ListProducts",
                "ListOrders", "GetChannelPrices", "SetChannelPrices", "CreateVoucherBatch", "GetVoucherBatch",
                "ActivateVouchers", "FreezeVouchers", "UnfreezeVouchers", "VoidVouchers", "GetVoucher",
                "RedeemVoucher", "StreamStatement"],
    "refunds": ["ApplyReviewDecision", "ListOrders"],  # ListOrders: its ledger check (refunds settled, orders not)
    "billing-adapter": ["ListOrders"],  # reconciliation compares BOSS's ledger with the orders' statuses
    "ops": ["GetOrder", "GetOrderByChannelOrderId", "ListOrders", "StreamStatement", "GetVoucherBatch", "GetVoucher",
            "FlagStuckOrders"],
})


def _actor() -> tuple[str, str]:
    """Who asks: the member of staff of the gateway's signed assertion. A request's `actor` field is ignored
    (anyone able to send a request could fill it)."""
    return "staff", staff.current().id


def _batch_pb(b: asyncpg.Record, states: dict[str, int] | None = None) -> orders_pb2.VoucherBatch:
    return orders_pb2.VoucherBatch(
        batch_id=str(b["batch_id"]), sku=b["sku"], face_value_fen=b["face_value_fen"], count=b["count"],
        expires_at=to_timestamp(b["expires_at"]), created_at=to_timestamp(b["created_at"]),
        created_by=b["created_by"], states=states or {},
    )


class OrdersServicer(orders_pb2_grpc.OrdersServiceServicer):
    def __init__(self, service: OrdersService, vouchers: VoucherService) -> None:
        self.service = service
        self.vouchers = vouchers

    # --- recharges ---------------------------------------------------------------------------------

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
        with telemetry.item_spans("create order", (  # the batch serves many requests: a span in each one's trace
                (trace, {"topup.channel": req.channel_id, "topup.sku": req.sku}) for _, (req, _, trace) in valid)):
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

    async def ApplyReviewDecision(
        self, request: orders_pb2.ApplyReviewDecisionRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.Order:
        _, actor_id = _actor()
        if not request.decision_id or len(request.decision_id) > 64:
            raise InvalidRequest("decision_id must be 1-64 characters")
        try:
            order_id = identifiers.parse_uuid(request.order_id)
        except ValueError:
            raise OrderNotFound("no such order") from None
        order = await self.service.apply_review_decision(order_id, request.decision, request.decision_id, actor_id,
                                                         request.reason)
        return convert.order_to_pb(order)

    async def ListProducts(
        self, request: orders_pb2.ListProductsRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.ListProductsResponse:
        account = convert.account_from_pb(request.account)
        carrier, offer = await self.service.list_products(request.channel_id, account)
        return orders_pb2.ListProductsResponse(account=convert.account_to_pb(account), carrier=carrier,
                                               products=[convert.product_to_pb(p) for p in offer])

    async def ListOrders(
        self, request: orders_pb2.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.ListOrdersResponse:
        account_type = vocab.ACCOUNT_TYPE_NAMES.get(request.account.type, "")
        if account_type:
            convert.account_from_pb(request.account)  # validates the id's format
        if request.channels and request.channel_id:
            raise InvalidRequest("a channel sees only its own orders")
        statuses = tuple(STATUS_FROM_PB[s].value for s in request.statuses if s in STATUS_FROM_PB)
        if request.limit < 0:
            raise InvalidRequest("limit must not be negative")
        f = repository.OrderFilter(
            channel_id=request.channel_id, channels=tuple(request.channels), account_type=account_type,
            account_id=request.account.id if account_type else "", statuses=statuses, skus=tuple(request.skus),
            created_from=from_timestamp(request.created_from), created_to=from_timestamp(request.created_to),
        )
        page, cursor = await self.service.list_orders(f, request.limit, request.cursor, request.include_history)
        return orders_pb2.ListOrdersResponse(
            orders=[convert.order_to_pb(o, with_history=request.include_history) for o in page], next_cursor=cursor)

    async def StreamStatement(
        self, request: orders_pb2.StatementRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[orders_pb2.StatementChunk]:
        async for chunk in self.service.statement(request.channel_id, request.date):
            yield chunk

    # --- prices ------------------------------------------------------------------------------------

    async def GetChannelPrices(
        self, request: orders_pb2.GetChannelPricesRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.ChannelPrices:
        prices = await self.service.channel_prices(request.channel_id)
        return orders_pb2.ChannelPrices(channel_id=request.channel_id,
                                        prices=[orders_pb2.PriceEntry(sku=s, price_fen=p) for s, p in prices])

    async def SetChannelPrices(
        self, request: orders_pb2.SetChannelPricesRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.ChannelPrices:
        if not request.channel_id:
            raise InvalidRequest("channel_id is required")
        _actor()
        prices = await self.service.set_channel_prices(request.channel_id,
                                                       [(p.sku, p.price_fen) for p in request.prices])
        return orders_pb2.ChannelPrices(channel_id=request.channel_id,
                                        prices=[orders_pb2.PriceEntry(sku=s, price_fen=p) for s, p in prices])

    # --- vouchers ----------------------------------------------------------------------------------

    async def CreateVoucherBatch(
        self, request: orders_pb2.CreateVoucherBatchRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[orders_pb2.VoucherBatchChunk]:
        kind, actor_id = _actor()
        expires_at = from_timestamp(request.expires_at)
        if expires_at is None:
            raise InvalidRequest("expires_at is required")
        async for batch, cards in self.vouchers.create_batch(request.sku, request.count, expires_at, kind, actor_id,
                                                             request.note):
            chunk = orders_pb2.VoucherBatchChunk(
                cards=[orders_pb2.IssuedCard(card_number=n, pin=p) for n, p in cards])
            if batch is not None:
                chunk.batch.CopyFrom(_batch_pb(batch, {"created": request.count}))
            yield chunk

    async def GetVoucherBatch(
        self, request: orders_pb2.GetVoucherBatchRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.VoucherBatch:
        batch, states = await self.vouchers.get_batch(request.batch_id)
        return _batch_pb(batch, states)

    async def _change(self, transition: CardTransition, request: orders_pb2.ChangeVouchersRequest) -> (
            orders_pb2.ChangeVouchersResponse):
        kind, actor_id = _actor()
        changed, skipped = await self.vouchers.change(transition, request.batch_id, request.card_first,
                                                      request.card_last, kind, actor_id, request.reason)
        return orders_pb2.ChangeVouchersResponse(changed=changed, skipped=skipped)

    async def ActivateVouchers(
        self, request: orders_pb2.ChangeVouchersRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.ChangeVouchersResponse:
        return await self._change(CardTransition.ACTIVATE, request)

    async def FreezeVouchers(
        self, request: orders_pb2.ChangeVouchersRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.ChangeVouchersResponse:
        return await self._change(CardTransition.FREEZE, request)

    async def UnfreezeVouchers(
        self, request: orders_pb2.ChangeVouchersRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.ChangeVouchersResponse:
        return await self._change(CardTransition.UNFREEZE, request)

    async def VoidVouchers(
        self, request: orders_pb2.ChangeVouchersRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.ChangeVouchersResponse:
        return await self._change(CardTransition.VOID, request)

    async def GetVoucher(
        self, request: orders_pb2.GetVoucherRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.Voucher:
        card, history = await self.vouchers.get_card(request.card_number)
        kinds = {"staff": common_pb2.Actor.KIND_STAFF, "channel": common_pb2.Actor.KIND_CHANNEL}
        return orders_pb2.Voucher(
            card_number=card["card_number"], batch_id=str(card["batch_id"]), sku=card["sku"],
            face_value_fen=card["face_value_fen"], state=CARD_STATE_TO_PB[CardState(card["state"])],
            expires_at=to_timestamp(card["expires_at"]), order_id=str(card["order_id"] or ""),
            history=[orders_pb2.VoucherChange(
                from_state=CARD_STATE_TO_PB[CardState(h["from_state"])] if h["from_state"]
                else orders_pb2.VOUCHER_STATE_UNSPECIFIED,
                to_state=CARD_STATE_TO_PB[CardState(h["to_state"])], transition=h["transition"],
                actor=common_pb2.Actor(kind=kinds.get(h["actor_kind"], common_pb2.Actor.KIND_SERVICE),
                                       id=h["actor_id"]),
                reason=h["reason"], order_id=str(h["order_id"] or ""), at=to_timestamp(h["at"]),
            ) for h in history],
        )

    async def RedeemVoucher(
        self, request: orders_pb2.RedeemVoucherRequest, context: grpc.aio.ServicerContext
    ) -> orders_pb2.CreateRechargeResponse:
        if not request.channel_id:
            raise InvalidRequest("channel_id is required")
        if len(request.notify_url) > 512:
            raise InvalidRequest("notify_url is too long")
        redemption = Redemption(
            channel_id=request.channel_id, channel_order_id=_channel_order_id(request.channel_order_id),
            account=convert.account_from_pb(request.account), pin=request.pin, notify_url=request.notify_url,
            decision=convert.decision_from_pb(request.risk_decision), device_id=request.device_id, ip=request.ip,
            user_id=request.user_id, trace_context=dict(request.trace_context),
        )
        order, replayed = await self.vouchers.redeem(redemption)
        return orders_pb2.CreateRechargeResponse(order=order, replayed=replayed)

