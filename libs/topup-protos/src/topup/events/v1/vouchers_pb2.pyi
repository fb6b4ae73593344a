import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from topup.common.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VoucherRedemptionFailed(_message.Message):
    __slots__ = ("channel_id", "account", "device_id", "ip", "user_id", "reason_code", "at", "channel_order_id")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    channel_id: str
    account: _common_pb2.Account
    device_id: str
    ip: str
    user_id: str
    reason_code: str
    at: _timestamp_pb2.Timestamp
    channel_order_id: str
    def __init__(self, channel_id: _Optional[str] = ..., account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ..., device_id: _Optional[str] = ..., ip: _Optional[str] = ..., user_id: _Optional[str] = ..., reason_code: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channel_order_id: _Optional[str] = ...) -> None: ...

class VoucherStateChanged(_message.Message):
    __slots__ = ("card_number", "batch_id", "from_state", "to_state", "transition", "actor", "reason", "order_id", "at")
    CARD_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    card_number: str
    batch_id: str
    from_state: str
    to_state: str
    transition: str
    actor: _common_pb2.Actor
    reason: str
    order_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, card_number: _Optional[str] = ..., batch_id: _Optional[str] = ..., from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., transition: _Optional[str] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., reason: _Optional[str] = ..., order_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
