import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from topup.common.v1 import common_pb2 as _common_pb2
from topup.risk.v1 import risk_pb2 as _risk_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATUS_UNSPECIFIED: _ClassVar[OrderStatus]
    ORDER_STATUS_PENDING: _ClassVar[OrderStatus]
    ORDER_STATUS_PROCESSING: _ClassVar[OrderStatus]
    ORDER_STATUS_SUCCEEDED: _ClassVar[OrderStatus]
    ORDER_STATUS_FAILED: _ClassVar[OrderStatus]
    ORDER_STATUS_REFUNDED: _ClassVar[OrderStatus]
    ORDER_STATUS_UNDER_REVIEW: _ClassVar[OrderStatus]
    ORDER_STATUS_REJECTED: _ClassVar[OrderStatus]

class VoucherState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VOUCHER_STATE_UNSPECIFIED: _ClassVar[VoucherState]
    VOUCHER_STATE_CREATED: _ClassVar[VoucherState]
    VOUCHER_STATE_ACTIVE: _ClassVar[VoucherState]
    VOUCHER_STATE_REDEEMING: _ClassVar[VoucherState]
    VOUCHER_STATE_REDEEMED: _ClassVar[VoucherState]
    VOUCHER_STATE_FROZEN: _ClassVar[VoucherState]
    VOUCHER_STATE_EXPIRED: _ClassVar[VoucherState]
    VOUCHER_STATE_VOID: _ClassVar[VoucherState]
ORDER_STATUS_UNSPECIFIED: OrderStatus
ORDER_STATUS_PENDING: OrderStatus
ORDER_STATUS_PROCESSING: OrderStatus
ORDER_STATUS_SUCCEEDED: OrderStatus
ORDER_STATUS_FAILED: OrderStatus
ORDER_STATUS_REFUNDED: OrderStatus
ORDER_STATUS_UNDER_REVIEW: OrderStatus
ORDER_STATUS_REJECTED: OrderStatus
VOUCHER_STATE_UNSPECIFIED: VoucherState
VOUCHER_STATE_CREATED: VoucherState
VOUCHER_STATE_ACTIVE: VoucherState
VOUCHER_STATE_REDEEMING: VoucherState
VOUCHER_STATE_REDEEMED: VoucherState
VOUCHER_STATE_FROZEN: VoucherState
VOUCHER_STATE_EXPIRED: VoucherState
VOUCHER_STATE_VOID: VoucherState

class StatusChange(_message.Message):
    __slots__ = ("from_status", "to_status", "transition", "reason_code", "reason", "actor", "at")
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    from_status: OrderStatus
    to_status: OrderStatus
    transition: str
    reason_code: str
    reason: str
    actor: _common_pb2.Actor
    at: _timestamp_pb2.Timestamp
    def __init__(self, from_status: _Optional[_Union[OrderStatus, str]] = ..., to_status: _Optional[_Union[OrderStatus, str]] = ..., transition: _Optional[str] = ..., reason_code: _Optional[str] = ..., reason: _Optional[str] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("order_id", "channel_id", "channel_order_id", "account", "sku", "face_value_fen", "price_fen", "payment", "status", "status_reason_code", "notify_url", "created_at", "updated_at", "risk_decision_id", "history", "voucher_card_number")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    FACE_VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_URL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    RISK_DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    VOUCHER_CARD_NUMBER_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    channel_id: str
    channel_order_id: str
    account: _common_pb2.Account
    sku: str
    face_value_fen: int
    price_fen: int
    payment: _common_pb2.Payment
    status: OrderStatus
    status_reason_code: str
    notify_url: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    risk_decision_id: str
    history: _containers.RepeatedCompositeFieldContainer[StatusChange]
    voucher_card_number: str
    def __init__(self, order_id: _Optional[str] = ..., channel_id: _Optional[str] = ..., channel_order_id: _Optional[str] = ..., account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ..., sku: _Optional[str] = ..., face_value_fen: _Optional[int] = ..., price_fen: _Optional[int] = ..., payment: _Optional[_Union[_common_pb2.Payment, _Mapping]] = ..., status: _Optional[_Union[OrderStatus, str]] = ..., status_reason_code: _Optional[str] = ..., notify_url: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., risk_decision_id: _Optional[str] = ..., history: _Optional[_Iterable[_Union[StatusChange, _Mapping]]] = ..., voucher_card_number: _Optional[str] = ...) -> None: ...

class CreateRechargeRequest(_message.Message):
    __slots__ = ("channel_id", "channel_order_id", "account", "sku", "payment", "notify_url", "risk_decision", "trace_context")
    class TraceContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_URL_FIELD_NUMBER: _ClassVar[int]
    RISK_DECISION_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    channel_order_id: str
    account: _common_pb2.Account
    sku: str
    payment: _common_pb2.Payment
    notify_url: str
    risk_decision: _risk_pb2.Decision
    trace_context: _containers.ScalarMap[str, str]
    def __init__(self, channel_id: _Optional[str] = ..., channel_order_id: _Optional[str] = ..., account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ..., sku: _Optional[str] = ..., payment: _Optional[_Union[_common_pb2.Payment, _Mapping]] = ..., notify_url: _Optional[str] = ..., risk_decision: _Optional[_Union[_risk_pb2.Decision, _Mapping]] = ..., trace_context: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateRechargeBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[CreateRechargeRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[CreateRechargeRequest, _Mapping]]] = ...) -> None: ...

class CreateRechargeResult(_message.Message):
    __slots__ = ("created", "error")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    created: CreateRechargeResponse
    error: _common_pb2.Error
    def __init__(self, created: _Optional[_Union[CreateRechargeResponse, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ...) -> None: ...

class CreateRechargeBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CreateRechargeResult]
    def __init__(self, results: _Optional[_Iterable[_Union[CreateRechargeResult, _Mapping]]] = ...) -> None: ...

class CreateRechargeResponse(_message.Message):
    __slots__ = ("order", "replayed")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    order: Order
    replayed: bool
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("order_id", "channel_id", "include_history")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    channel_id: str
    include_history: bool
    def __init__(self, order_id: _Optional[str] = ..., channel_id: _Optional[str] = ..., include_history: _Optional[bool] = ...) -> None: ...

class GetOrderByChannelOrderIdRequest(_message.Message):
    __slots__ = ("channel_id", "channel_order_id", "include_history")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    channel_order_id: str
    include_history: bool
    def __init__(self, channel_id: _Optional[str] = ..., channel_order_id: _Optional[str] = ..., include_history: _Optional[bool] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("channel_id", "account", "statuses", "skus", "created_from", "created_to", "channels", "limit", "cursor", "include_history")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    SKUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FROM_FIELD_NUMBER: _ClassVar[int]
    CREATED_TO_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    account: _common_pb2.Account
    statuses: _containers.RepeatedScalarFieldContainer[OrderStatus]
    skus: _containers.RepeatedScalarFieldContainer[str]
    created_from: _timestamp_pb2.Timestamp
    created_to: _timestamp_pb2.Timestamp
    channels: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    cursor: str
    include_history: bool
    def __init__(self, channel_id: _Optional[str] = ..., account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ..., statuses: _Optional[_Iterable[_Union[OrderStatus, str]]] = ..., skus: _Optional[_Iterable[str]] = ..., created_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channels: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., include_history: _Optional[bool] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_cursor")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    next_cursor: str
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class StatementRequest(_message.Message):
    __slots__ = ("channel_id", "date")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    date: str
    def __init__(self, channel_id: _Optional[str] = ..., date: _Optional[str] = ...) -> None: ...

class StatementLine(_message.Message):
    __slots__ = ("order_id", "channel_order_id", "account", "sku", "payment_method", "paid_fen", "status", "status_reason_code", "created_at", "final_at", "refund_fen")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINAL_AT_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEN_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    channel_order_id: str
    account: _common_pb2.Account
    sku: str
    payment_method: _common_pb2.PaymentMethod
    paid_fen: int
    status: OrderStatus
    status_reason_code: str
    created_at: _timestamp_pb2.Timestamp
    final_at: _timestamp_pb2.Timestamp
    refund_fen: int
    def __init__(self, order_id: _Optional[str] = ..., channel_order_id: _Optional[str] = ..., account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ..., sku: _Optional[str] = ..., payment_method: _Optional[_Union[_common_pb2.PaymentMethod, str]] = ..., paid_fen: _Optional[int] = ..., status: _Optional[_Union[OrderStatus, str]] = ..., status_reason_code: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., final_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refund_fen: _Optional[int] = ...) -> None: ...

class StatementTotal(_message.Message):
    __slots__ = ("status", "count", "paid_fen", "refund_fen")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEN_FIELD_NUMBER: _ClassVar[int]
    status: OrderStatus
    count: int
    paid_fen: int
    refund_fen: int
    def __init__(self, status: _Optional[_Union[OrderStatus, str]] = ..., count: _Optional[int] = ..., paid_fen: _Optional[int] = ..., refund_fen: _Optional[int] = ...) -> None: ...

class StatementSummary(_message.Message):
    __slots__ = ("channel_id", "date", "day_start", "day_end", "complete", "totals")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    DAY_START_FIELD_NUMBER: _ClassVar[int]
    DAY_END_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    date: str
    day_start: _timestamp_pb2.Timestamp
    day_end: _timestamp_pb2.Timestamp
    complete: bool
    totals: _containers.RepeatedCompositeFieldContainer[StatementTotal]
    def __init__(self, channel_id: _Optional[str] = ..., date: _Optional[str] = ..., day_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., day_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete: _Optional[bool] = ..., totals: _Optional[_Iterable[_Union[StatementTotal, _Mapping]]] = ...) -> None: ...

class StatementChunk(_message.Message):
    __slots__ = ("lines", "summary")
    LINES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[StatementLine]
    summary: StatementSummary
    def __init__(self, lines: _Optional[_Iterable[_Union[StatementLine, _Mapping]]] = ..., summary: _Optional[_Union[StatementSummary, _Mapping]] = ...) -> None: ...

class PriceEntry(_message.Message):
    __slots__ = ("sku", "price_fen")
    SKU_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    sku: str
    price_fen: int
    def __init__(self, sku: _Optional[str] = ..., price_fen: _Optional[int] = ...) -> None: ...

class GetChannelPricesRequest(_message.Message):
    __slots__ = ("channel_id",)
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    def __init__(self, channel_id: _Optional[str] = ...) -> None: ...

class SetChannelPricesRequest(_message.Message):
    __slots__ = ("channel_id", "prices", "actor")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    PRICES_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    prices: _containers.RepeatedCompositeFieldContainer[PriceEntry]
    actor: _common_pb2.Actor
    def __init__(self, channel_id: _Optional[str] = ..., prices: _Optional[_Iterable[_Union[PriceEntry, _Mapping]]] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ...) -> None: ...

class ChannelPrices(_message.Message):
    __slots__ = ("channel_id", "prices")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    PRICES_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    prices: _containers.RepeatedCompositeFieldContainer[PriceEntry]
    def __init__(self, channel_id: _Optional[str] = ..., prices: _Optional[_Iterable[_Union[PriceEntry, _Mapping]]] = ...) -> None: ...

class CreateVoucherBatchRequest(_message.Message):
    __slots__ = ("sku", "count", "expires_at", "actor", "note")
    SKU_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    sku: str
    count: int
    expires_at: _timestamp_pb2.Timestamp
    actor: _common_pb2.Actor
    note: str
    def __init__(self, sku: _Optional[str] = ..., count: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class VoucherBatch(_message.Message):
    __slots__ = ("batch_id", "sku", "face_value_fen", "count", "expires_at", "created_at", "created_by", "states")
    class StatesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    FACE_VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    sku: str
    face_value_fen: int
    count: int
    expires_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    created_by: str
    states: _containers.ScalarMap[str, int]
    def __init__(self, batch_id: _Optional[str] = ..., sku: _Optional[str] = ..., face_value_fen: _Optional[int] = ..., count: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., states: _Optional[_Mapping[str, int]] = ...) -> None: ...

class IssuedCard(_message.Message):
    __slots__ = ("card_number", "pin")
    CARD_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PIN_FIELD_NUMBER: _ClassVar[int]
    card_number: str
    pin: str
    def __init__(self, card_number: _Optional[str] = ..., pin: _Optional[str] = ...) -> None: ...

class VoucherBatchChunk(_message.Message):
    __slots__ = ("batch", "cards")
    BATCH_FIELD_NUMBER: _ClassVar[int]
    CARDS_FIELD_NUMBER: _ClassVar[int]
    batch: VoucherBatch
    cards: _containers.RepeatedCompositeFieldContainer[IssuedCard]
    def __init__(self, batch: _Optional[_Union[VoucherBatch, _Mapping]] = ..., cards: _Optional[_Iterable[_Union[IssuedCard, _Mapping]]] = ...) -> None: ...

class GetVoucherBatchRequest(_message.Message):
    __slots__ = ("batch_id",)
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    def __init__(self, batch_id: _Optional[str] = ...) -> None: ...

class ChangeVouchersRequest(_message.Message):
    __slots__ = ("batch_id", "card_first", "card_last", "actor", "reason")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    CARD_FIRST_FIELD_NUMBER: _ClassVar[int]
    CARD_LAST_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    card_first: str
    card_last: str
    actor: _common_pb2.Actor
    reason: str
    def __init__(self, batch_id: _Optional[str] = ..., card_first: _Optional[str] = ..., card_last: _Optional[str] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ChangeVouchersResponse(_message.Message):
    __slots__ = ("changed", "skipped")
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    changed: int
    skipped: int
    def __init__(self, changed: _Optional[int] = ..., skipped: _Optional[int] = ...) -> None: ...

class GetVoucherRequest(_message.Message):
    __slots__ = ("card_number",)
    CARD_NUMBER_FIELD_NUMBER: _ClassVar[int]
    card_number: str
    def __init__(self, card_number: _Optional[str] = ...) -> None: ...

class VoucherChange(_message.Message):
    __slots__ = ("from_state", "to_state", "transition", "actor", "reason", "order_id", "at")
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    from_state: VoucherState
    to_state: VoucherState
    transition: str
    actor: _common_pb2.Actor
    reason: str
    order_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, from_state: _Optional[_Union[VoucherState, str]] = ..., to_state: _Optional[_Union[VoucherState, str]] = ..., transition: _Optional[str] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., reason: _Optional[str] = ..., order_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Voucher(_message.Message):
    __slots__ = ("card_number", "batch_id", "sku", "face_value_fen", "state", "expires_at", "order_id", "history")
    CARD_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    FACE_VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    card_number: str
    batch_id: str
    sku: str
    face_value_fen: int
    state: VoucherState
    expires_at: _timestamp_pb2.Timestamp
    order_id: str
    history: _containers.RepeatedCompositeFieldContainer[VoucherChange]
    def __init__(self, card_number: _Optional[str] = ..., batch_id: _Optional[str] = ..., sku: _Optional[str] = ..., face_value_fen: _Optional[int] = ..., state: _Optional[_Union[VoucherState, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., order_id: _Optional[str] = ..., history: _Optional[_Iterable[_Union[VoucherChange, _Mapping]]] = ...) -> None: ...

class RedeemVoucherRequest(_message.Message):
    __slots__ = ("channel_id", "channel_order_id", "account", "pin", "notify_url", "risk_decision", "device_id", "ip", "user_id", "trace_context")
    class TraceContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PIN_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_URL_FIELD_NUMBER: _ClassVar[int]
    RISK_DECISION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    channel_order_id: str
    account: _common_pb2.Account
    pin: str
    notify_url: str
    risk_decision: _risk_pb2.Decision
    device_id: str
    ip: str
    user_id: str
    trace_context: _containers.ScalarMap[str, str]
    def __init__(self, channel_id: _Optional[str] = ..., channel_order_id: _Optional[str] = ..., account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ..., pin: _Optional[str] = ..., notify_url: _Optional[str] = ..., risk_decision: _Optional[_Union[_risk_pb2.Decision, _Mapping]] = ..., device_id: _Optional[str] = ..., ip: _Optional[str] = ..., user_id: _Optional[str] = ..., trace_context: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListProductsRequest(_message.Message):
    __slots__ = ("channel_id", "account")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    account: _common_pb2.Account
    def __init__(self, channel_id: _Optional[str] = ..., account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ...) -> None: ...

class Product(_message.Message):
    __slots__ = ("sku", "kind", "name", "face_value_fen", "data_mb", "validity_days", "price_fen")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[Product.Kind]
        KIND_CALL_CREDIT: _ClassVar[Product.Kind]
        KIND_DATA_PACK: _ClassVar[Product.Kind]
        KIND_COMBO: _ClassVar[Product.Kind]
        KIND_BROADBAND_CREDIT: _ClassVar[Product.Kind]
    KIND_UNSPECIFIED: Product.Kind
    KIND_CALL_CREDIT: Product.Kind
    KIND_DATA_PACK: Product.Kind
    KIND_COMBO: Product.Kind
    KIND_BROADBAND_CREDIT: Product.Kind
    SKU_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FACE_VALUE_FEN_FIELD_NUMBER: _ClassVar[int]
    DATA_MB_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    sku: str
    kind: Product.Kind
    name: str
    face_value_fen: int
    data_mb: int
    validity_days: int
    price_fen: int
    def __init__(self, sku: _Optional[str] = ..., kind: _Optional[_Union[Product.Kind, str]] = ..., name: _Optional[str] = ..., face_value_fen: _Optional[int] = ..., data_mb: _Optional[int] = ..., validity_days: _Optional[int] = ..., price_fen: _Optional[int] = ...) -> None: ...

class ListProductsResponse(_message.Message):
    __slots__ = ("account", "carrier", "products")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CARRIER_FIELD_NUMBER: _ClassVar[int]
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    account: _common_pb2.Account
    carrier: str
    products: _containers.RepeatedCompositeFieldContainer[Product]
    def __init__(self, account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ..., carrier: _Optional[str] = ..., products: _Optional[_Iterable[_Union[Product, _Mapping]]] = ...) -> None: ...

class ApplyReviewDecisionRequest(_message.Message):
    __slots__ = ("order_id", "decision", "decision_id", "actor", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    decision: str
    decision_id: str
    actor: _common_pb2.Actor
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., decision: _Optional[str] = ..., decision_id: _Optional[str] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class FlagStuckOrdersRequest(_message.Message):
    __slots__ = ("older_than", "limit")
    OLDER_THAN_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    older_than: _timestamp_pb2.Timestamp
    limit: int
    def __init__(self, older_than: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ...) -> None: ...

class FlagStuckOrdersResponse(_message.Message):
    __slots__ = ("order_ids",)
    ORDER_IDS_FIELD_NUMBER: _ClassVar[int]
    order_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, order_ids: _Optional[_Iterable[str]] = ...) -> None: ...
