from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_TYPE_UNSPECIFIED: _ClassVar[AccountType]
    ACCOUNT_TYPE_MOBILE: _ClassVar[AccountType]
    ACCOUNT_TYPE_BROADBAND: _ClassVar[AccountType]

class PaymentMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_METHOD_UNSPECIFIED: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_ALIPAY: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_WECHAT: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_UNIONPAY: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_JD: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_TAOBAO: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_UNICOM_PAY: _ClassVar[PaymentMethod]
    PAYMENT_METHOD_VOUCHER: _ClassVar[PaymentMethod]
ACCOUNT_TYPE_UNSPECIFIED: AccountType
ACCOUNT_TYPE_MOBILE: AccountType
ACCOUNT_TYPE_BROADBAND: AccountType
PAYMENT_METHOD_UNSPECIFIED: PaymentMethod
PAYMENT_METHOD_ALIPAY: PaymentMethod
PAYMENT_METHOD_WECHAT: PaymentMethod
PAYMENT_METHOD_UNIONPAY: PaymentMethod
PAYMENT_METHOD_JD: PaymentMethod
PAYMENT_METHOD_TAOBAO: PaymentMethod
PAYMENT_METHOD_UNICOM_PAY: PaymentMethod
PAYMENT_METHOD_VOUCHER: PaymentMethod

class Account(_message.Message):
    __slots__ = ("type", "id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    type: AccountType
    id: str
    def __init__(self, type: _Optional[_Union[AccountType, str]] = ..., id: _Optional[str] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("method", "transaction_id", "paid_fen", "payer_account")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    PAYER_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    method: PaymentMethod
    transaction_id: str
    paid_fen: int
    payer_account: str
    def __init__(self, method: _Optional[_Union[PaymentMethod, str]] = ..., transaction_id: _Optional[str] = ..., paid_fen: _Optional[int] = ..., payer_account: _Optional[str] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "grpc_status", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    GRPC_STATUS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    grpc_status: int
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., grpc_status: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Actor(_message.Message):
    __slots__ = ("kind", "id")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[Actor.Kind]
        KIND_SERVICE: _ClassVar[Actor.Kind]
        KIND_CHANNEL: _ClassVar[Actor.Kind]
        KIND_STAFF: _ClassVar[Actor.Kind]
    KIND_UNSPECIFIED: Actor.Kind
    KIND_SERVICE: Actor.Kind
    KIND_CHANNEL: Actor.Kind
    KIND_STAFF: Actor.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    kind: Actor.Kind
    id: str
    def __init__(self, kind: _Optional[_Union[Actor.Kind, str]] = ..., id: _Optional[str] = ...) -> None: ...
