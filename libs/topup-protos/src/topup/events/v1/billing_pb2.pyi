import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FulfilmentStarted(_message.Message):
    __slots__ = ("order_id", "started_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    started_at: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FulfilmentSucceeded(_message.Message):
    __slots__ = ("order_id", "attempts", "boss_serials", "completed_at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    BOSS_SERIALS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    attempts: int
    boss_serials: _containers.RepeatedScalarFieldContainer[str]
    completed_at: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., attempts: _Optional[int] = ..., boss_serials: _Optional[_Iterable[str]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FulfilmentFailed(_message.Message):
    __slots__ = ("order_id", "attempts", "reason_code", "reason", "failed_at", "partially_fulfilled", "delivered_transaction_ids")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    PARTIALLY_FULFILLED_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_TRANSACTION_IDS_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    attempts: int
    reason_code: str
    reason: str
    failed_at: _timestamp_pb2.Timestamp
    partially_fulfilled: bool
    delivered_transaction_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, order_id: _Optional[str] = ..., attempts: _Optional[int] = ..., reason_code: _Optional[str] = ..., reason: _Optional[str] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., partially_fulfilled: _Optional[bool] = ..., delivered_transaction_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class NumberPorted(_message.Message):
    __slots__ = ("number", "carrier", "ported_at")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    CARRIER_FIELD_NUMBER: _ClassVar[int]
    PORTED_AT_FIELD_NUMBER: _ClassVar[int]
    number: str
    carrier: str
    ported_at: _timestamp_pb2.Timestamp
    def __init__(self, number: _Optional[str] = ..., carrier: _Optional[str] = ..., ported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FulfilmentOutcomeUnknown(_message.Message):
    __slots__ = ("order_id", "attempts", "reason_code", "reason", "at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    attempts: int
    reason_code: str
    reason: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., attempts: _Optional[int] = ..., reason_code: _Optional[str] = ..., reason: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReconciliationRepaired(_message.Message):
    __slots__ = ("order_id", "run_id", "transaction_ids", "boss_serials", "at")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_IDS_FIELD_NUMBER: _ClassVar[int]
    BOSS_SERIALS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    run_id: str
    transaction_ids: _containers.RepeatedScalarFieldContainer[str]
    boss_serials: _containers.RepeatedScalarFieldContainer[str]
    at: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., run_id: _Optional[str] = ..., transaction_ids: _Optional[_Iterable[str]] = ..., boss_serials: _Optional[_Iterable[str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReconciliationDiscrepancy(_message.Message):
    __slots__ = ("run_id", "kind", "order_id", "transaction_id", "detail", "at")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    kind: str
    order_id: str
    transaction_id: str
    detail: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., kind: _Optional[str] = ..., order_id: _Optional[str] = ..., transaction_id: _Optional[str] = ..., detail: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
