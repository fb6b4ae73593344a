"""The order and what an order request is."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

import orjson

from orders.domain.accounts import Account
from orders.domain.catalog import Product
from orders.domain.state import Status, Transition


class PaymentMethod(StrEnum):
    ALIPAY = "alipay"
    WECHAT = "wechat"
    UNIONPAY = "unionpay"
    JD = "jd"
    TAOBAO = "taobao"
    UNICOM_PAY = "unicom_pay"
    VOUCHER = "voucher"


class RiskOutcome(StrEnum):
    ALLOW = "ALLOW"
    CHALLENGE = "CHALLENGE"
    REVIEW = "REVIEW"
    DENY = "DENY"


@dataclass(frozen=True, slots=True)
class Payment:
    method: PaymentMethod
    transaction_id: str
    paid_fen: int
    payer_account: str = ""


@dataclass(frozen=True, slots=True)
class RiskDecision:
    decision_id: str
    outcome: RiskOutcome
    reason_code: str = ""


@dataclass(frozen=True, slots=True)
class RechargeRequest:
    channel_id: str
    channel_order_id: str
    account: Account
    sku: str
    payment: Payment
    notify_url: str

    def fingerprint(self) -> bytes:
        """What "the same request" means for idempotency: every field the channel sent, canonically."""
        canonical = orjson.dumps(
            {
                "channel_order_id": self.channel_order_id,
                "account": {"type": self.account.type.value, "id": self.account.id},
                "sku": self.sku,
                "payment": {
                    "method": self.payment.method.value,
                    "transaction_id": self.payment.transaction_id,
                    "paid_fen": self.payment.paid_fen,
                    "payer_account": self.payment.payer_account,
                },
                "notify_url": self.notify_url,
            },
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.sha256(canonical).digest()


@dataclass(slots=True)
class StatusChange:
    from_status: Status | None
    to_status: Status
    transition: Transition
    reason_code: str
    reason: str
    actor_kind: str
    actor_id: str
    at: datetime


@dataclass(slots=True)
class Order:
    order_id: UUID
    channel_id: str
    channel_order_id: str
    account: Account
    sku: str
    face_value_fen: int
    price_fen: int
    payment: Payment
    status: Status
    status_reason_code: str
    notify_url: str
    risk_decision_id: str
    created_at: datetime
    updated_at: datetime
    history: list[StatusChange] = field(default_factory=list)
    #: the voucher card that paid for the order (payment method voucher)
    voucher_card_number: str = ""


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation at BOSS; BOSS is idempotent on `transaction_id`."""

    transaction_id: str
    kind: str  # "credit" | "data_pack"
    amount_fen: int = 0
    pack_code: str = ""


def operations_for(order_id: UUID, product: Product) -> list[Operation]:
    """What BOSS must do for a product: a credit, a data pack, or both (a combo), each with its own id.

    A combo provisions its data pack first: it is the part BOSS may refuse for reasons of its own (the pack
    unknown, or not allowed on the subscriber's plan), so a refusal comes before anything was delivered and
    the order fails cleanly (refunded in full). If the pack is delivered and the credit then fails for good,
    the order is partially fulfilled: neither refunded in full nor kept half-done silently, it goes to the
    review desk (UNDER_REVIEW, reason COMBO_PARTIALLY_FULFILLED), where a person decides."""
    ops: list[Operation] = []
    base = order_id.hex
    if product.delivers_data:
        assert product.pack_code is not None
        ops.append(Operation(f"{base}-d", "data_pack", pack_code=product.pack_code))
    if product.delivers_credit:
        ops.append(Operation(f"{base}-c", "credit", amount_fen=product.face_value_fen))
    return ops
