from __future__ import annotations

import dataclasses
import uuid

from orders.domain.accounts import Account, AccountType
from orders.domain.catalog import Product, ProductKind
from orders.domain.models import Payment, PaymentMethod, RechargeRequest, operations_for

REQUEST = RechargeRequest(
    channel_id="demo", channel_order_id="A1", account=Account(AccountType.MOBILE, "18612345678"), sku="CREDIT_50",
    payment=Payment(PaymentMethod.ALIPAY, "T1", 5000), notify_url="",
)


def test_fingerprint_is_stable() -> None:
    assert REQUEST.fingerprint() == dataclasses.replace(REQUEST).fingerprint()


def test_fingerprint_changes_with_any_field_the_channel_sent() -> None:
    variants = [
        dataclasses.replace(REQUEST, sku="CREDIT_100"),
        dataclasses.replace(REQUEST, account=Account(AccountType.MOBILE, "18612345679")),
        dataclasses.replace(REQUEST, payment=Payment(PaymentMethod.ALIPAY, "T1", 4999)),
        dataclasses.replace(REQUEST, payment=Payment(PaymentMethod.WECHAT, "T1", 5000)),
        dataclasses.replace(REQUEST, payment=Payment(PaymentMethod.ALIPAY, "T2", 5000)),
        dataclasses.replace(REQUEST, notify_url="https://channel.example/cb"),
    ]
    assert len({v.fingerprint() for v in variants} | {REQUEST.fingerprint()}) == len(variants) + 1


def _product(face: int, pack: str | None) -> Product:
    kind = ProductKind.COMBO if face and pack else ProductKind.DATA_PACK if pack else ProductKind.CALL_CREDIT
    return Product("X", kind, "x", face, 5120 if pack else 0, 30, pack, AccountType.MOBILE)


def test_operations_credit_data_and_combo() -> None:
    order_id = uuid.uuid4()
    credit = operations_for(order_id, _product(5000, None))
    assert [(o.kind, o.amount_fen) for o in credit] == [("credit", 5000)]
    data = operations_for(order_id, _product(0, "DP_5G_30D"))
    assert [(o.kind, o.pack_code) for o in data] == [("data_pack", "DP_5G_30D")]
    combo = operations_for(order_id, _product(5000, "DP_5G_30D"))
    assert [o.kind for o in combo] == ["data_pack", "credit"]  # the part BOSS may refuse goes first
    assert len({o.transaction_id for o in combo}) == 2  # each BOSS operation has its own idempotency key
    assert operations_for(order_id, _product(5000, None))[0].transaction_id == credit[0].transaction_id
