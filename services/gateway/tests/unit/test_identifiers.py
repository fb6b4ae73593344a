"""The gateway's request models and staff tokens take ASCII identifiers only, matched whole."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from pydantic import ValidationError

from gateway.admin_auth import AUDIENCE, Role, issue_token, verify_token
from gateway.errors import ApiError
from gateway.schemas import CardRangeIn, RechargeIn
from gateway.settings import GatewaySettings
from topup_platform import identifiers as ids

SETTINGS = GatewaySettings()


def _recharge(**payment: Any) -> bytes:
    return json.dumps({"channel_order_id": "A-1", "account": {"type": "mobile", "id": "18612345678"},
                       "sku": "CREDIT_50", "payment": {"method": "alipay", "transaction_id": "2026112422001",
                                                       "paid_fen": 5000, **payment}}).encode()


@pytest.mark.parametrize("transaction_id", ["2026112422001 ", " 2026112422001", "2026112422001\u200b",
                                            "2026112422001\n", "２０２６１１２４２２００１", "2026 112422001"])
def test_a_transaction_id_with_stray_or_look_alike_characters_is_refused(transaction_id: str) -> None:
    """The model takes it (so the route answers PAYMENT_TRANSACTION_ID_INVALID, not a generic 400); the pattern
    the route checks refuses it."""
    body = RechargeIn.model_validate_json(_recharge(transaction_id=transaction_id))
    assert not ids.matches(ids.TRANSACTION_ID, body.payment.transaction_id)


def test_a_payer_account_is_visible_ascii() -> None:
    assert RechargeIn.model_validate_json(_recharge(payer_account="2088000000000001")).payment.payer_account
    with pytest.raises(ValidationError, match="ASCII"):
        RechargeIn.model_validate_json(_recharge(payer_account="2088000000000001\u200b"))


def test_card_numbers_are_ascii_digits() -> None:
    assert CardRangeIn.model_validate({"card_first": "8601000001000014"}).card_first
    for look_alike in ("８" * 16, "٨" * 16, "8601000001000014\n"):
        with pytest.raises(ValidationError):
            CardRangeIn.model_validate({"card_first": look_alike})


def test_the_openapi_document_shows_each_pattern_anchored() -> None:
    schema = RechargeIn.model_json_schema()
    payment = schema["$defs"]["PaymentIn"]["properties"]["transaction_id"]
    assert payment["pattern"] == "^[A-Za-z0-9_.:-]{1,128}$"
    assert "\\d" not in json.dumps(schema)


def _signed(sub: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "roles": ["admin"], "iss": SETTINGS.admin_jwt_issuer, "aud": AUDIENCE,
                       "iat": now, "exp": now + 60}, SETTINGS.admin_jwt_secret.get_secret_value(), algorithm="HS256")


@pytest.mark.parametrize("sub", ["", " ", "alice ", "Rita", "ｒｉｔａ", "al\u200bice", "ali\nce", 7, None])
def test_a_signed_token_naming_no_valid_member_of_staff_is_refused(sub: Any) -> None:
    with pytest.raises(ApiError) as err:
        verify_token(SETTINGS, _signed(sub))
    assert err.value.spec.code == "ADMIN_AUTH_REQUIRED"


def test_tokens_are_issued_for_canonical_staff_ids_only() -> None:
    assert verify_token(SETTINGS, issue_token(SETTINGS, "rita", [Role.REVIEWER])).id == "rita"
    for sub in ("", "Rita", "ｒｉｔａ", "rita "):
        with pytest.raises(ValueError, match="lower-case ASCII"):
            issue_token(SETTINGS, sub, [Role.REVIEWER])
