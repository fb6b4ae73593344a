import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from topup.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetBalanceRequest(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: _common_pb2.Account
    def __init__(self, account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ...) -> None: ...

class Balance(_message.Message):
    __slots__ = ("account", "balance_fen", "data_remaining_mb", "as_of")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FEN_FIELD_NUMBER: _ClassVar[int]
    DATA_REMAINING_MB_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    account: _common_pb2.Account
    balance_fen: int
    data_remaining_mb: int
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ..., balance_fen: _Optional[int] = ..., data_remaining_mb: _Optional[int] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StopFulfilmentRequest(_message.Message):
    __slots__ = ("order_id", "actor")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    actor: str
    def __init__(self, order_id: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class GetFulfilmentRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("number", "kind", "outcome", "provider_code", "at", "latency_ms")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_CODE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    number: int
    kind: str
    outcome: str
    provider_code: str
    at: _timestamp_pb2.Timestamp
    latency_ms: int
    def __init__(self, number: _Optional[int] = ..., kind: _Optional[str] = ..., outcome: _Optional[str] = ..., provider_code: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latency_ms: _Optional[int] = ...) -> None: ...

class Fulfilment(_message.Message):
    __slots__ = ("order_id", "state", "attempts")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    state: str
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    def __init__(self, order_id: _Optional[str] = ..., state: _Optional[str] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ...) -> None: ...
