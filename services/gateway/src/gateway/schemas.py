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


class ErrorOut(BaseModel):
    code: str = Field(description="UPPER_SNAKE code from the error catalogue")
    message: str
    request_id: str
    details: dict[str, object] | None = None
