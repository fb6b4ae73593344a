import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from topup.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RefundStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUND_STATUS_UNSPECIFIED: _ClassVar[RefundStatus]
    REFUND_STATUS_REQUESTED: _ClassVar[RefundStatus]
    REFUND_STATUS_SUBMITTED: _ClassVar[RefundStatus]
    REFUND_STATUS_SETTLED: _ClassVar[RefundStatus]
    REFUND_STATUS_FAILED: _ClassVar[RefundStatus]
    REFUND_STATUS_CANCELLED: _ClassVar[RefundStatus]
REFUND_STATUS_UNSPECIFIED: RefundStatus
REFUND_STATUS_REQUESTED: RefundStatus
REFUND_STATUS_SUBMITTED: RefundStatus
REFUND_STATUS_SETTLED: RefundStatus
REFUND_STATUS_FAILED: RefundStatus
REFUND_STATUS_CANCELLED: RefundStatus

class GetRefundRequest(_message.Message):
    __slots__ = ("refund_id", "order_id")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    order_id: str
    def __init__(self, refund_id: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class Refund(_message.Message):
    __slots__ = ("refund_id", "order_id", "payment", "amount_fen", "status", "created_at", "deadline_at", "settled_at")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_AT_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    order_id: str
    payment: _common_pb2.Payment
    amount_fen: int
    status: RefundStatus
    created_at: _timestamp_pb2.Timestamp
    deadline_at: _timestamp_pb2.Timestamp
    settled_at: _timestamp_pb2.Timestamp
    def __init__(self, refund_id: _Optional[str] = ..., order_id: _Optional[str] = ..., payment: _Optional[_Union[_common_pb2.Payment, _Mapping]] = ..., amount_fen: _Optional[int] = ..., status: _Optional[_Union[RefundStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
