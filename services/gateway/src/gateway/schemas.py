"""The JSON shapes of the channel API (request validation and the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

AccountType = Literal["mobile", "broadband"]
PaymentMethod = Literal["alipay", "wechat", "unionpay", "jd", "taobao", "unicom_pay"]
OrderStatus = Literal["PENDING", "PROCESSING", "SUCCEEDED", "FAILED", "REFUNDED", "UNDER_REVIEW", "REJECTED"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Account(_Strict):
    type: AccountType
    id: str = Field(min_length=1, max_length=32, description="11-digit mobile number, or broadband account id")


class PaymentIn(_Strict):
    method: PaymentMethod
    transaction_id: str = Field(min_length=1, max_length=128, description="The provider's transaction id")
    paid_fen: StrictInt = Field(gt=0, le=100_000_000, description="What the subscriber paid the channel, in fen")
    payer_account: str | None = Field(None, max_length=128, description="The payer's account at the provider")


class RiskContext(_Strict):
    """Optional signals about the subscriber's session, for the risk engine."""

    device_id: str | None = Field(None, max_length=128)
    ip: str | None = Field(None, max_length=64)
    user_id: str | None = Field(None, max_length=128)


class RechargeIn(_Strict):
    channel_order_id: str = Field(pattern=r"^[A-Za-z0-9_\-.:]{1,64}$",
                                  description="Your order id: the idempotency key of this request")
    account: Account
    sku: str = Field(pattern=r"^[A-Z0-9_]{1,32}$")
    payment: PaymentIn
    notify_url: str | None = Field(None, max_length=512, pattern=r"^https?://[^\s]+$",
                                   description="Where we POST the signed final status")
    risk_context: RiskContext | None = None


class RedemptionIn(_Strict):
    channel_order_id: str = Field(pattern=r"^[A-Za-z0-9_\-.:]{1,64}$",
                                  description="Your order id: the idempotency key of this request")
    account: Account
    pin: str = Field(min_length=1, max_length=64, description="The card's secret PIN (18 digits)")
    notify_url: str | None = Field(None, max_length=512, pattern=r"^https?://[^\s]+$",
                                   description="Where we POST the signed final status")
    risk_context: RiskContext | None = None


class PaymentOut(BaseModel):
    method: str
    transaction_id: str
    paid_fen: int


class StatusChangeOut(BaseModel):
    from_status: OrderStatus | None
    to_status: OrderStatus
    transition: str
    reason_code: str | None
    actor: str
    at: datetime


class OrdersPage(BaseModel):
    orders: list[OrderOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


class PriceIn(_Strict):
    sku: str = Field(pattern=r"^[A-Z0-9_]{1,32}$")
    price_fen: StrictInt = Field(gt=0, le=100_000_000)


class PriceListIn(_Strict):
    prices: list[PriceIn] = Field(max_length=500, description="The whole list: SKUs left out stop being sold")


class PriceListOut(BaseModel):
    channel_id: str
    prices: list[PriceIn]


class VoucherBatchIn(_Strict):
    sku: str = Field(pattern=r"^[A-Z0-9_]{1,32}$")
    count: StrictInt = Field(ge=1, le=100_000)
    expires_at: datetime
    note: str = Field("", max_length=200)


class VoucherBatchOut(BaseModel):
    batch_id: str
    sku: str
    face_value_fen: int
    count: int
    expires_at: datetime
    created_at: datetime
    created_by: str
    states: dict[str, int]


class CardRangeIn(_Strict):
    card_first: str | None = Field(None, pattern=r"^\d{16}$", description="First card of a range (or the one card)")
    card_last: str | None = Field(None, pattern=r"^\d{16}$", description="Last card of the range (inclusive)")
    reason: str = Field("", max_length=200)


class CardsChangedOut(BaseModel):
    changed: int
    skipped: int = Field(description="Cards in the range that were not in a state this change applies to")


class VoucherChangeOut(BaseModel):
    from_state: str | None
    to_state: str
    transition: str
    actor: str
    reason: str | None
    order_id: str | None
    at: datetime


class VoucherOut(BaseModel):
    card_number: str
    batch_id: str
    sku: str
    face_value_fen: int
    state: str
    expires_at: datetime
    order_id: str | None
    history: list[VoucherChangeOut]


class OrderOut(BaseModel):
    order_id: str
    channel_order_id: str
    status: OrderStatus
    status_reason_code: str | None = Field(description="Why the order is in its status, e.g. BOSS_SUBSCRIBER_NOT_FOUND")
    account: Account
    sku: str
    face_value_fen: int
    price_fen: int
    payment: PaymentOut
    notify_url: str | None
    created_at: datetime
    updated_at: datetime
    history: list[StatusChangeOut] | None = Field(None, description="With include_history=true")
    voucher_card_number: str | None = Field(None, description="The voucher card that paid (voucher redemptions)")


class ProductOut(BaseModel):
    sku: str
    kind: Literal["call_credit", "data_pack", "combo", "broadband_credit"]
    name: str
    face_value_fen: int
    data_mb: int
    validity_days: int
    price_fen: int


class ProductsOut(BaseModel):
    account: Account
    carrier: str
    products: list[ProductOut]


class BalanceOut(BaseModel):
    account: Account
    balance_fen: int = Field(description="Call credit, in fen (may be negative: arrears)")
    data_remaining_mb: int
    as_of: datetime


class ErrorOut(BaseModel):
    code: str = Field(description="UPPER_SNAKE code from the error catalogue")
    message: str
    request_id: str
    details: dict[str, object] | None = None


#: bodies the routes parse themselves (after the signature check): documented by app._document_errors
REQUEST_MODELS: list[type[BaseModel]] = [RechargeIn, RedemptionIn, PriceListIn, VoucherBatchIn, CardRangeIn]
