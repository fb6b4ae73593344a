"""How a payment provider's answers are read: what is final, what is worth another try."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from refunds.domain.review import ACTIONS, Action, Path, path_of_rejection
from refunds.provider import Accepted, NotFound, Rejected, Transient, classify, verify_notice


@pytest.mark.parametrize(("status", "body", "expected"), [
    (202, {"status": "ACCEPTED", "provider_refund_no": "P1"}, Accepted(False, "P1")),
    (200, {"status": "SETTLED", "provider_refund_no": "P1"}, Accepted(True, "P1")),
    (202, {"status": "REJECTED", "reject_reason": "TRANSACTION_TOO_OLD"}, Rejected("TRANSACTION_TOO_OLD")),
    (202, {"status": "REJECTED", "reject_reason": "REFUND_EXCEEDS_PAYMENT"}, Rejected("REFUND_EXCEEDS_PAYMENT")),
    (409, {"code": "REFUND_ID_CONFLICT", "message": "used"}, Rejected("REFUND_ID_CONFLICT", "used")),
    (400, {}, Rejected("HTTP_400")),
    (404, {"code": "REFUND_NOT_FOUND"}, NotFound()),
    (503, {"code": "PROVIDER_UNAVAILABLE"}, Transient("HTTP 503 PROVIDER_UNAVAILABLE")),
    (504, {}, Transient("HTTP 504")),
    (429, {}, Transient("HTTP 429")),
    (200, {"status": "WHO_KNOWS"}, Transient("unexpected answer 'WHO_KNOWS'")),
])
def test_classify(status: int, body: dict[str, str], expected: object) -> None:
    assert classify(status, body) == expected


def test_notices_are_verified_with_the_providers_key() -> None:
    body = b'{"refund_id": "r1", "status": "SETTLED", "amount_fen": 1000}'
    signature = base64.b64encode(hmac.new(b"key", body, hashlib.sha256).digest()).decode()
    assert verify_notice("key", body, signature)
    assert not verify_notice("other", body, signature)
    assert not verify_notice("key", body + b" ", signature)
    assert not verify_notice("key", body, "")


def test_a_refund_refused_as_more_than_was_paid_is_never_paid_back_by_hand() -> None:
    assert ACTIONS[path_of_rejection("REFUND_EXCEEDS_PAYMENT")] == (Action.CLOSE,)
    assert path_of_rejection("TRANSACTION_TOO_OLD") is Path.REFUND_REJECTED  # finance pays those another way
    assert Action.RECORD_MANUAL_REFUND in ACTIONS[path_of_rejection("REFUND_ABNORMAL")]
