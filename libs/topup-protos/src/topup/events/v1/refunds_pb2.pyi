import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RefundSettled(_message.Message):
    __slots__ = ("refund_id", "order_id", "amount_fen", "settled_at", "settled_by", "provider_refund_no")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    SETTLED_BY_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REFUND_NO_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    order_id: str
    amount_fen: int
    settled_at: _timestamp_pb2.Timestamp
    settled_by: str
    provider_refund_no: str
    def __init__(self, refund_id: _Optional[str] = ..., order_id: _Optional[str] = ..., amount_fen: _Optional[int] = ..., settled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settled_by: _Optional[str] = ..., provider_refund_no: _Optional[str] = ...) -> None: ...

class RefundFailed(_message.Message):
    __slots__ = ("refund_id", "order_id", "reason_code", "reason", "at")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    order_id: str
    reason_code: str
    reason: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, refund_id: _Optional[str] = ..., order_id: _Optional[str] = ..., reason_code: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
