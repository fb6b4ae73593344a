import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from topup.common.v1 import common_pb2 as _common_pb2
from topup.orders.v1 import orders_pb2 as _orders_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderStatusChanged(_message.Message):
    __slots__ = ("order", "change")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    order: _orders_pb2.Order
    change: _orders_pb2.StatusChange
    def __init__(self, order: _Optional[_Union[_orders_pb2.Order, _Mapping]] = ..., change: _Optional[_Union[_orders_pb2.StatusChange, _Mapping]] = ...) -> None: ...

class FulfilmentOperation(_message.Message):
    __slots__ = ("transaction_id", "kind", "amount_fen", "pack_code")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[FulfilmentOperation.Kind]
        KIND_CREDIT: _ClassVar[FulfilmentOperation.Kind]
        KIND_DATA_PACK: _ClassVar[FulfilmentOperation.Kind]
    KIND_UNSPECIFIED: FulfilmentOperation.Kind
    KIND_CREDIT: FulfilmentOperation.Kind
    KIND_DATA_PACK: FulfilmentOperation.Kind
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    PACK_CODE_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    kind: FulfilmentOperation.Kind
    amount_fen: int
    pack_code: str
    def __init__(self, transaction_id: _Optional[str] = ..., kind: _Optional[_Union[FulfilmentOperation.Kind, str]] = ..., amount_fen: _Optional[int] = ..., pack_code: _Optional[str] = ...) -> None: ...

class FulfilmentRequested(_message.Message):
    __slots__ = ("order_id", "channel_id", "account", "sku", "operations", "accepted_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    channel_id: str
    account: _common_pb2.Account
    sku: str
    operations: _containers.RepeatedCompositeFieldContainer[FulfilmentOperation]
    accepted_at: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., channel_id: _Optional[str] = ..., account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ..., sku: _Optional[str] = ..., operations: _Optional[_Iterable[_Union[FulfilmentOperation, _Mapping]]] = ..., accepted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RefundRequested(_message.Message):
    __slots__ = ("order", "confirmed_at")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_AT_FIELD_NUMBER: _ClassVar[int]
    order: _orders_pb2.Order
    confirmed_at: _timestamp_pb2.Timestamp
    def __init__(self, order: _Optional[_Union[_orders_pb2.Order, _Mapping]] = ..., confirmed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
