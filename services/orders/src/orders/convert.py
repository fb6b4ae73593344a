"""Conversions between the domain and the protobuf messages (API and events)."""

from __future__ import annotations

from orders.domain.accounts import Account, AccountType
from orders.domain.catalog import PricedProduct, ProductKind
from orders.domain.errors import InvalidRequest
from orders.domain.models import (
    Operation,
    Order,
    Payment,
    PaymentMethod,
    RiskDecision,
    RiskOutcome,
    StatusChange,
)
from orders.domain.state import Status
from topup.common.v1 import common_pb2
from topup.events.v1 import orders_pb2 as order_events_pb2
from topup.orders.v1 import orders_pb2
from topup.risk.v1 import risk_pb2
from topup_platform import vocab
from topup_platform.timeutil import to_timestamp

ACCOUNT_TYPE_TO_PB = {t: vocab.ACCOUNT_TYPES[t.value] for t in AccountType}
ACCOUNT_TYPE_FROM_PB = {v: k for k, v in ACCOUNT_TYPE_TO_PB.items()}
METHOD_TO_PB = {m: vocab.PAYMENT_METHODS[m.value] for m in PaymentMethod}
METHOD_FROM_PB = {v: k for k, v in METHOD_TO_PB.items()}
STATUS_TO_PB: dict[Status, orders_pb2.OrderStatus] = {
    Status.PENDING: orders_pb2.ORDER_STATUS_PENDING,
    Status.PROCESSING: orders_pb2.ORDER_STATUS_PROCESSING,
    Status.SUCCEEDED: orders_pb2.ORDER_STATUS_SUCCEEDED,
    Status.FAILED: orders_pb2.ORDER_STATUS_FAILED,
    Status.REFUNDED: orders_pb2.ORDER_STATUS_REFUNDED,
    Status.UNDER_REVIEW: orders_pb2.ORDER_STATUS_UNDER_REVIEW,
    Status.REJECTED: orders_pb2.ORDER_STATUS_REJECTED,
}
OUTCOME_FROM_PB = {risk_pb2.OUTCOME_ALLOW: RiskOutcome.ALLOW, risk_pb2.OUTCOME_CHALLENGE: RiskOutcome.CHALLENGE,
                   risk_pb2.OUTCOME_REVIEW: RiskOutcome.REVIEW, risk_pb2.OUTCOME_DENY: RiskOutcome.DENY}
KIND_TO_PB = {
    ProductKind.CALL_CREDIT: orders_pb2.Product.KIND_CALL_CREDIT,
    ProductKind.DATA_PACK: orders_pb2.Product.KIND_DATA_PACK,
    ProductKind.COMBO: orders_pb2.Product.KIND_COMBO,
    ProductKind.BROADBAND_CREDIT: orders_pb2.Product.KIND_BROADBAND_CREDIT,
}
ACTOR_KIND_TO_PB = {"service": common_pb2.Actor.KIND_SERVICE, "channel": common_pb2.Actor.KIND_CHANNEL,
                    "staff": common_pb2.Actor.KIND_STAFF}


def account_from_pb(pb: common_pb2.Account) -> Account:
    if pb.type not in ACCOUNT_TYPE_FROM_PB:
        raise InvalidRequest("account.type must be mobile or broadband")
    return Account(ACCOUNT_TYPE_FROM_PB[pb.type], pb.id)


def account_to_pb(account: Account) -> common_pb2.Account:
    return common_pb2.Account(type=ACCOUNT_TYPE_TO_PB[account.type], id=account.id)


def payment_from_pb(pb: common_pb2.Payment) -> Payment:
    if pb.method not in METHOD_FROM_PB:
        raise InvalidRequest("payment.method is not one we accept")
    return Payment(METHOD_FROM_PB[pb.method], pb.transaction_id, pb.paid_fen, pb.payer_account)


def payment_to_pb(payment: Payment) -> common_pb2.Payment:
    return common_pb2.Payment(method=METHOD_TO_PB[payment.method], transaction_id=payment.transaction_id,
                              paid_fen=payment.paid_fen, payer_account=payment.payer_account)


def decision_from_pb(pb: risk_pb2.Decision) -> RiskDecision:
    if pb.outcome not in OUTCOME_FROM_PB:
        raise InvalidRequest("a risk decision is required")
    return RiskDecision(pb.decision_id, OUTCOME_FROM_PB[pb.outcome], pb.reason_code)


def change_to_pb(change: StatusChange) -> orders_pb2.StatusChange:
    return orders_pb2.StatusChange(
        from_status=STATUS_TO_PB[change.from_status] if change.from_status else orders_pb2.ORDER_STATUS_UNSPECIFIED,
        to_status=STATUS_TO_PB[change.to_status],
        transition=change.transition.value,
        reason_code=change.reason_code,
        reason=change.reason,
        actor=common_pb2.Actor(kind=ACTOR_KIND_TO_PB[change.actor_kind], id=change.actor_id),
        at=to_timestamp(change.at),
    )


def order_to_pb(order: Order, *, with_history: bool = False) -> orders_pb2.Order:
    pb = orders_pb2.Order(
        order_id=str(order.order_id),
        channel_id=order.channel_id,
        channel_order_id=order.channel_order_id,
        account=account_to_pb(order.account),
        sku=order.sku,
        face_value_fen=order.face_value_fen,
        price_fen=order.price_fen,
        payment=payment_to_pb(order.payment),
        status=STATUS_TO_PB[order.status],
        status_reason_code=order.status_reason_code,
        notify_url=order.notify_url,
        created_at=to_timestamp(order.created_at),
        updated_at=to_timestamp(order.updated_at),
        risk_decision_id=order.risk_decision_id,
        voucher_card_number=order.voucher_card_number,
    )
    if with_history:
        pb.history.extend(change_to_pb(c) for c in order.history)
    return pb


def status_changed_event(order: Order, change: StatusChange) -> order_events_pb2.OrderStatusChanged:
    return order_events_pb2.OrderStatusChanged(order=order_to_pb(order), change=change_to_pb(change))


_OP_KIND = {"credit": order_events_pb2.FulfilmentOperation.KIND_CREDIT,
            "data_pack": order_events_pb2.FulfilmentOperation.KIND_DATA_PACK}


def fulfilment_requested_event(order: Order, operations: list[Operation]) -> order_events_pb2.FulfilmentRequested:
    return order_events_pb2.FulfilmentRequested(
        order_id=str(order.order_id),
        channel_id=order.channel_id,
        account=account_to_pb(order.account),
        sku=order.sku,
        operations=[
            order_events_pb2.FulfilmentOperation(transaction_id=op.transaction_id, kind=_OP_KIND[op.kind],
                                                 amount_fen=op.amount_fen, pack_code=op.pack_code)
            for op in operations
        ],
        accepted_at=to_timestamp(order.updated_at),
    )


def product_to_pb(priced: PricedProduct) -> orders_pb2.Product:
    p = priced.product
    return orders_pb2.Product(sku=p.sku, kind=KIND_TO_PB[p.kind], name=p.name, face_value_fen=p.face_value_fen,
                              data_mb=p.data_mb, validity_days=p.validity_days, price_fen=priced.price_fen)
