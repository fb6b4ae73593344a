"""The JSON shapes of the channel API (request validation and the OpenAPI document)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, field_validator

from topup_platform import identifiers as ids

AccountType = Literal["mobile", "broadband"]
PaymentMethod = Literal["alipay", "wechat", "unionpay", "jd", "taobao", "unicom_pay"]
OrderStatus = Literal["PENDING", "PROCESSING", "SUCCEEDED", "FAILED", "REFUNDED", "UNDER_REVIEW", "REJECTED"]


#: control characters other than tab and line breaks (a PEM key has those)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        if _CONTROL.search(value):
            raise ValueError("control characters are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("not valid Unicode text (a lone surrogate)") from None
    elif isinstance(value, list):
        for item in value:
            _clean(item)
    return value


def fullmatch(pattern: str) -> AfterValidator:
    """Validation by one of the platform's ASCII identifier patterns, matched whole (`re.fullmatch`)."""

    def check(value: str) -> str:
        if not ids.matches(pattern, value):
            raise ValueError(f"must match {pattern} (ASCII characters only, nothing before or after)")
        return value

    return AfterValidator(check)


def documented(pattern: str, **field: Any) -> Any:
    """The pattern in the OpenAPI document (anchored, as JSON Schema reads it)."""
    return Field(json_schema_extra={"pattern": f"^{pattern}$"}, **field)


ChannelOrderId = Annotated[str, fullmatch(ids.CHANNEL_ORDER_ID), documented(
    ids.CHANNEL_ORDER_ID, description="Your order id: the idempotency key of this request", examples=["A-1001"])]
Sku = Annotated[str, fullmatch(ids.SKU), documented(ids.SKU, examples=["CREDIT_50"])]
CardNumber = Annotated[str, fullmatch(ids.CARD_NUMBER), documented(ids.CARD_NUMBER)]
#: checked by the route (`PAYMENT_TRANSACTION_ID_INVALID`, 422), not here: one payment has one spelling, and a
#: second spelling of it ("T1 ", "T1\u200b") is refused with a code of its own
TransactionId = Annotated[str, Field(min_length=1, max_length=128), documented(
    ids.TRANSACTION_ID, description="The provider's transaction id: ASCII letters, digits, _ - . : (no spaces, no "
    "invisible characters), else `PAYMENT_TRANSACTION_ID_INVALID`", examples=["2026112422001"])]
VisibleId = Annotated[str, fullmatch(ids.VISIBLE), documented(ids.VISIBLE)]
KeyId = Annotated[str, fullmatch(ids.KEY_ID), documented(ids.KEY_ID)]
ChannelIdText = Annotated[str, fullmatch(ids.CHANNEL_ID), documented(
    ids.CHANNEL_ID, description="Lower-case letters, digits, - and _")]


class _Strict(BaseModel):
    """Request bodies: no unknown fields; no text with control characters or invalid Unicode (they would only
    fail further down, in SQL or in protobuf)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return _clean(value)


class Account(_Strict):
    type: AccountType
    id: str = Field(min_length=1, max_length=32, description="11-digit mobile number, or broadband account id "
                    "(ASCII digits; checked against its type: `ACCOUNT_INVALID`)",
                    examples=["18612345678", "01087654321"])


class PaymentIn(_Strict):
    method: PaymentMethod
    transaction_id: TransactionId
    paid_fen: StrictInt = Field(gt=0, le=100_000_000, description="What the subscriber paid the channel, in fen",
                                examples=[5000])
    payer_account: VisibleId | None = Field(None, description="The payer's account at the provider")


class RiskContext(_Strict):
    """Optional signals about the subscriber's session, for the risk engine."""

    device_id: VisibleId | None = None
    ip: str | None = Field(None, max_length=64)
    user_id: VisibleId | None = None


class RechargeIn(_Strict):
    channel_order_id: ChannelOrderId
    account: Account
    sku: Sku
    payment: PaymentIn
    notify_url: str | None = Field(None, max_length=512, pattern=r"^https?://[^\s]+$",
                                   description="Where we POST the signed final status")
    risk_context: RiskContext | None = None


class RedemptionIn(_Strict):
    channel_order_id: ChannelOrderId
    account: Account
    pin: str = Field(min_length=1, max_length=64, description="The card's secret PIN (18 ASCII digits)")
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
    sku: Sku
    price_fen: StrictInt = Field(gt=0, le=100_000_000)


class PriceListIn(_Strict):
    prices: list[PriceIn] = Field(max_length=500, description="The whole list: SKUs left out stop being sold")


class PriceListOut(BaseModel):
    channel_id: str
    prices: list[PriceIn]


class VoucherBatchIn(_Strict):
    sku: Sku
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
    card_first: CardNumber | None = Field(None, description="First card of a range (or the one card)")
    card_last: CardNumber | None = Field(None, description="Last card of the range (inclusive)")
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


# --- the review desk and refunds (staff) ------------------------------------------------------------------

ReviewAction = Literal["confirm_credited", "confirm_not_credited", "approve", "reject_held", "retry_refund",
                       "record_manual_refund", "close"]
CaseStatus = Literal["OPEN", "AWAITING_SECOND_APPROVAL", "RESOLVED"]
RefundStatus = Literal["REQUESTED", "SUBMITTED", "SETTLED", "FAILED", "CANCELLED"]


class CaseDecisionIn(_Strict):
    action: ReviewAction
    reason: str = Field(min_length=3, max_length=2000, description="Why: it goes into the audit trail")
    reference: str = Field("", max_length=128,
                           description="record_manual_refund: the reference of the payment made another way")


class ProposalDecisionIn(_Strict):
    reason: str = Field(min_length=3, max_length=2000)


class AssignmentIn(_Strict):
    assignee: str = Field("", max_length=64, description="Who takes the case; empty: the caller")


class CalendarYearIn(_Strict):
    holidays: list[date] = Field(max_length=60, description="Weekdays that are days off (public holidays)")
    working_weekends: list[date] = Field(max_length=20, description="Weekend days that are working days (调休)")


class RefundNoticeIn(BaseModel):
    """A provider's settlement notice, as the providers send it (read by the refunds service after the
    signature check; extra fields are ignored)."""

    refund_id: str = Field(description="Our refund id, as we gave it with the refund")
    status: Literal["ACCEPTED", "SETTLED", "REJECTED"]
    amount_fen: int
    provider_refund_no: str = ""
    reject_reason: str = ""


class CaseActionOut(BaseModel):
    action: str
    actor: str
    role: str
    at: datetime
    reason: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ReviewCaseOut(BaseModel):
    case_id: str
    kind: Literal["ORDER_UNDER_REVIEW", "REFUND_FAILED", "RECONCILIATION_DISCREPANCY", "REFUND_AFTER_CREDIT",
                  "REFUND_REFUSED"]
    status: CaseStatus
    order_id: str | None
    refund_id: str | None
    channel_id: str | None
    amount_fen: int
    reason_code: str
    detail: str
    allowed_actions: list[ReviewAction]
    needs_four_eyes: bool = Field(description="At or above the threshold: a second person must approve")
    assignee: str | None
    opened_at: datetime
    proposed_action: str | None
    proposed_by: str | None
    resolution: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    actions: list[CaseActionOut] | None = Field(None, description="The audit trail (one case)")


class ReviewCasesPage(BaseModel):
    cases: list[ReviewCaseOut]
    next_cursor: str | None


class RefundEventOut(BaseModel):
    at: datetime
    from_status: str | None
    to_status: str
    what: str
    detail: str
    actor: str


class RefundOut(BaseModel):
    refund_id: str
    order_id: str
    channel_id: str
    payment: PaymentOut
    amount_fen: int
    status: RefundStatus
    reason_code: str | None
    failure_confirmed_at: datetime
    deadline_at: datetime = Field(description="End of the first working day after the failure was confirmed")
    deadline_breached: bool
    settled_at: datetime | None
    provider_refund_no: str | None
    attempts: int
    last_error: str | None
    events: list[RefundEventOut] | None = None


class RefundsPage(BaseModel):
    refunds: list[RefundOut]
    next_cursor: str | None


class CalendarYearOut(BaseModel):
    year: int
    holidays: list[date]
    working_weekends: list[date]
    configured: bool = Field(description="False: nobody configured this year; weekends only")
    updated_by: str | None
    updated_at: datetime | None


class DeadlineOut(BaseModel):
    confirmed_at: datetime
    deadline_at: datetime
    working_day: date


# --- the channel registry (admin API) ---------------------------------------------------------------------

KeyKind = Literal["hmac", "rsa", "callback"]
Permission = Literal["balance"]
_URL_PREFIX = r"^https?://[^\s]+$"


class QuotaIn(_Strict):
    rate_per_second: StrictInt = Field(ge=1, le=1_000_000, description="Sustained requests per second")
    burst: StrictInt = Field(ge=1, le=1_000_000, description="Requests allowed at once above the rate")


class CallbackSettingsIn(_Strict):
    enabled: bool = Field(True, description="Send callbacks to this channel's notify_url")
    url_prefixes: list[Annotated[str, Field(max_length=256, pattern=_URL_PREFIX)]] = Field(
        default_factory=list, max_length=20,
        description="notify_url must be under one of these (same origin, path on a segment boundary); "
                    "with none, the channel cannot use notify_url")


class ChannelIn(_Strict):
    channel_id: ChannelIdText
    name: str = Field(min_length=1, max_length=100)
    enabled: bool = True
    permissions: list[Permission] = Field(default_factory=list, description="What it may do beyond recharging")
    quota: QuotaIn = Field(default_factory=lambda: QuotaIn(rate_per_second=50, burst=100))
    callbacks: CallbackSettingsIn = Field(default_factory=CallbackSettingsIn)
    hmac: bool = Field(True, description="Make an HMAC secret for request signatures (returned once)")
    rsa_public_key_pem: str | None = Field(
        None, max_length=8192, description="Register this RSA public key (PEM, >= 2048 bits) for SHA256withRSA "
                                           "request signatures")
    prices: list[PriceIn] | None = Field(None, max_length=500,
                                         description="The channel's price list (what it may sell, in fen)")


class ChannelPatchIn(_Strict):
    name: str | None = Field(None, min_length=1, max_length=100)
    enabled: bool | None = None
    permissions: list[Permission] | None = None
    quota: QuotaIn | None = None
    callbacks: CallbackSettingsIn | None = None


class KeyIn(_Strict):
    kind: KeyKind = Field(description="hmac: we make a request-signing secret; rsa: register your public key; "
                                      "callback: we make a new secret for signing our callbacks to you")
    key_id: KeyId | None = Field(None, description="Default: made up for you")
    public_key_pem: str | None = Field(None, max_length=8192, description="For kind rsa: PEM, >= 2048 bits")
    retire_others_after_seconds: StrictInt | None = Field(
        None, ge=0, le=90 * 86400,
        description="The channel's other active keys of this kind stop counting after this many seconds "
                    "(the rotation's overlap); left out, they stay until retired")


class KeyOut(BaseModel):
    key_id: str
    kind: KeyKind
    status: Literal["active", "retired", "expired"]
    created_at: datetime
    expires_at: datetime | None
    retired_at: datetime | None
    fingerprint: str | None = Field(description="RSA keys: SHA-256 of the DER public key (hex); secrets: null")


class KeyCreatedOut(KeyOut):
    secret: str | None = Field(description="The new secret (hmac, callback): shown this once, never again")


class QuotaOut(BaseModel):
    rate_per_second: int
    burst: int


class CallbackSettingsOut(BaseModel):
    enabled: bool
    url_prefixes: list[str]


class ChannelOut(BaseModel):
    channel_id: str
    name: str
    enabled: bool
    permissions: list[str]
    quota: QuotaOut
    callbacks: CallbackSettingsOut
    keys: list[KeyOut]
    created_at: datetime
    updated_at: datetime
    prices: list[PriceIn] | None = Field(None, description="The price list (one channel's view only)")


class ChannelCreatedOut(ChannelOut):
    secrets: list[KeyCreatedOut] = Field(description="The secrets made for it: shown this once, never again")


class ChannelsOut(BaseModel):
    channels: list[ChannelOut]


class CallbackAttemptOut(BaseModel):
    attempt: int
    trigger: str = Field(description="schedule, or resend:<staff id>")
    replica: str
    started_at: datetime
    duration_ms: int
    http_status: int | None
    error: str | None
    response_excerpt: str | None


class CallbackOut(BaseModel):
    callback_id: str
    order_id: str
    channel_id: str
    status: OrderStatus
    notify_url: str
    state: Literal["pending", "delivered", "gave_up", "superseded"]
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    body: dict[str, Any] = Field(description="What is POSTed (signed afresh at every attempt)")
    attempt_log: list[CallbackAttemptOut]


class CallbacksOut(BaseModel):
    callbacks: list[CallbackOut]


class ResendOut(BaseModel):
    callback_id: str
    state: Literal["pending"]


class NotificationAttemptOut(BaseModel):
    attempt: int
    trigger: str = Field(description="schedule, replay:channel (you asked), or resend:<staff> (our staff did)")
    at: datetime
    duration_ms: int
    http_status: int | None = Field(description="What your endpoint answered; null when it did not answer")
    error: str | None = Field(description="Why there was no answer (timeout, refused address, ...)")
    response_excerpt: str | None = Field(description="The start of your endpoint's answer")
    acknowledged: bool = Field(description='A 2xx whose body is empty, success or {"code":"SUCCESS"}')


class NotificationOut(BaseModel):
    notify_id: str = Field(description="The notify_id of the callback's body")
    order_id: str
    order_status: OrderStatus = Field(description="The final status this callback tells of")
    notify_url: str
    state: Literal["pending", "delivered", "superseded", "gave_up"] = Field(
        description="superseded: a newer status of the order was notified before this one was delivered")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    body: dict[str, object] | None = Field(None, description="What we POST (GET of one notification)")
    attempt_log: list[NotificationAttemptOut] | None = Field(None, description="GET of one notification")


class NotificationsPage(BaseModel):
    notifications: list[NotificationOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


class ReplayOut(BaseModel):
    notify_id: str
    state: Literal["pending"]


#: bodies the routes parse themselves (after the signature check): documented by app._document_errors
REQUEST_MODELS: list[type[BaseModel]] = [RechargeIn, RedemptionIn, PriceListIn, VoucherBatchIn, CardRangeIn,
                                         ChannelIn, ChannelPatchIn, KeyIn, CaseDecisionIn, ProposalDecisionIn,
                                         AssignmentIn, CalendarYearIn, RefundNoticeIn]
