from topup.risk.v1 import risk_pb2 as _risk_pb2
from topup.common.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DecisionMade(_message.Message):
    __slots__ = ("decision", "idempotency_key", "channel_id", "account", "amount_fen", "shadow", "action")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    decision: _risk_pb2.Decision
    idempotency_key: str
    channel_id: str
    account: _common_pb2.Account
    amount_fen: int
    shadow: _risk_pb2.Decision
    action: str
    def __init__(self, decision: _Optional[_Union[_risk_pb2.Decision, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., channel_id: _Optional[str] = ..., account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ..., amount_fen: _Optional[int] = ..., shadow: _Optional[_Union[_risk_pb2.Decision, _Mapping]] = ..., action: _Optional[str] = ...) -> None: ...
