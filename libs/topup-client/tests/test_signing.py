"""The signature scheme of the contract, against a vector computed independently (openssl)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from topup_client.signing import sign, signed_headers, string_to_sign, verify

BODY = b'{"channel_order_id":"A1"}'


def test_string_to_sign_layout() -> None:
    assert string_to_sign("post", "/v1/recharges?x=1", 1700000000, "n" * 16, BODY) == (
        b"POST\n/v1/recharges?x=1\n1700000000\n" + b"n" * 16 + b"\n" + hashlib.sha256(BODY).hexdigest().encode()
    )


def test_known_vector() -> None:
    # The same as: printf 'GET\n/v1/products?account=18612345678\n1700000000\nabcdefghijklmnop\n%s' \
    #   "$(printf '' | sha256sum | cut -c1-64)" | openssl dgst -sha256 -hmac demo-secret -binary | base64
    expected = base64.b64encode(hmac.new(
        b"demo-secret",
        b"GET\n/v1/products?account=18612345678\n1700000000\nabcdefghijklmnop\n"
        b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        hashlib.sha256,
    ).digest()).decode()
    assert sign("demo-secret", "GET", "/v1/products?account=18612345678", "1700000000", "abcdefghijklmnop", b"") \
        == expected


def test_verify_rejects_any_change() -> None:
    sig = sign("s3cret", "POST", "/v1/recharges", 1, "n" * 16, BODY)
    assert verify("s3cret", sig, "POST", "/v1/recharges", 1, "n" * 16, BODY)
    assert not verify("other", sig, "POST", "/v1/recharges", 1, "n" * 16, BODY)
    assert not verify("s3cret", sig, "POST", "/v1/recharges", 2, "n" * 16, BODY)
    assert not verify("s3cret", sig, "POST", "/v1/recharges?a=1", 1, "n" * 16, BODY)
    assert not verify("s3cret", sig, "POST", "/v1/recharges", 1, "m" * 16, BODY)
    assert not verify("s3cret", sig, "POST", "/v1/recharges", 1, "n" * 16, BODY + b" ")
    assert not verify("s3cret", "not-base64-ü", "POST", "/v1/recharges", 1, "n" * 16, BODY)


def test_signed_headers_use_fresh_nonces() -> None:
    a = signed_headers("demo", "s", "GET", "/x", b"")
    b = signed_headers("demo", "s", "GET", "/x", b"")
    assert a["X-Nonce"] != b["X-Nonce"]
    assert 16 <= len(a["X-Nonce"]) <= 64
