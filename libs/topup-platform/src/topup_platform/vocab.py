"""The wire names of the shared protobuf enums (as channels and databases spell them), in one place."""

from __future__ import annotations

from topup.common.v1 import common_pb2

PAYMENT_METHODS: dict[str, common_pb2.PaymentMethod] = {
    "alipay": common_pb2.PAYMENT_METHOD_ALIPAY,
    "wechat": common_pb2.PAYMENT_METHOD_WECHAT,
    "unionpay": common_pb2.PAYMENT_METHOD_UNIONPAY,
    "jd": common_pb2.PAYMENT_METHOD_JD,
    "taobao": common_pb2.PAYMENT_METHOD_TAOBAO,
    "unicom_pay": common_pb2.PAYMENT_METHOD_UNICOM_PAY,
    "voucher": common_pb2.PAYMENT_METHOD_VOUCHER,
}
PAYMENT_METHOD_NAMES: dict[int, str] = {v: k for k, v in PAYMENT_METHODS.items()}

ACCOUNT_TYPES: dict[str, common_pb2.AccountType] = {
    "mobile": common_pb2.ACCOUNT_TYPE_MOBILE,
    "broadband": common_pb2.ACCOUNT_TYPE_BROADBAND,
}
ACCOUNT_TYPE_NAMES: dict[int, str] = {v: k for k, v in ACCOUNT_TYPES.items()}
