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


# --- SHA256withRSA ----------------------------------------------------------------------------------------

def _rsa_pair() -> tuple[object, object]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private, private.public_key()


def test_rsa_signatures_verify_with_the_public_key_only() -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from topup_client.signing import sign_rsa, verify_rsa

    private, public = _rsa_pair()
    sig = sign_rsa(private, "POST", "/v1/recharges", 1, "n" * 16, BODY)  # type: ignore[arg-type]
    assert len(sig) == 344  # 2048 bits, base64
    # the same as any SHA256withRSA implementation (Java's Signature.getInstance("SHA256withRSA"), openssl dgst)
    public.verify(base64.b64decode(sig), string_to_sign("POST", "/v1/recharges", 1, "n" * 16, BODY),  # type: ignore[attr-defined]
                  padding.PKCS1v15(), hashes.SHA256())
    assert verify_rsa(public, sig, "POST", "/v1/recharges", 1, "n" * 16, BODY)  # type: ignore[arg-type]
    assert not verify_rsa(public, sig, "POST", "/v1/recharges", 1, "n" * 16, BODY + b" ")  # type: ignore[arg-type]
    assert not verify_rsa(public, "!!" + sig[2:], "POST", "/v1/recharges", 1, "n" * 16, BODY)  # type: ignore[arg-type]
    other_private, _ = _rsa_pair()
    forged = sign_rsa(other_private, "POST", "/v1/recharges", 1, "n" * 16, BODY)  # type: ignore[arg-type]
    assert not verify_rsa(public, forged, "POST", "/v1/recharges", 1, "n" * 16, BODY)  # type: ignore[arg-type]


def test_signed_headers_with_a_private_key() -> None:
    from topup_client.signing import verify_rsa

    private, public = _rsa_pair()
    h = signed_headers("shop", None, "GET", "/v1/products?account=1", b"", private_key=private)  # type: ignore[arg-type]
    assert verify_rsa(public, h["X-Signature"], "GET", "/v1/products?account=1", h["X-Timestamp"],  # type: ignore[arg-type]
                      h["X-Nonce"], b"")


# --- callbacks ----------------------------------------------------------------------------------------------

def test_verify_callback_accepts_ours_and_refuses_the_rest() -> None:
    import time

    import pytest

    from topup_client.signing import CallbackVerificationError, verify_callback

    body = b'{"notify_id":"n1","order":{"status":"SUCCEEDED"}}'
    headers = {**signed_headers("shop", "cb-secret", "POST", "/notify?x=1", body), "X-Key-Id": "cb2"}
    assert verify_callback("cb-secret", "POST", "/notify?x=1", headers, body)["notify_id"] == "n1"
    lower = {k.lower(): v for k, v in headers.items()}  # header names arrive in any case
    assert verify_callback({"cb1": "old", "cb2": "cb-secret"}, "POST", "/notify?x=1", lower, body)
    for secrets, path, hdrs, data in [
        ("wrong", "/notify?x=1", headers, body),
        ("cb-secret", "/notify", headers, body),
        ("cb-secret", "/notify?x=1", headers, body + b" "),
        ("cb-secret", "/notify?x=1", {k: v for k, v in headers.items() if k != "X-Signature"}, body),
    ]:
        with pytest.raises(CallbackVerificationError):
            verify_callback(secrets, "POST", path, hdrs, data)
    with pytest.raises(CallbackVerificationError):  # an old callback, replayed later
        verify_callback("cb-secret", "POST", "/notify?x=1", headers, body, now=time.time() + 400)
    with pytest.raises(CallbackVerificationError):
        verify_callback("cb-secret", "POST", "/notify?x=1", headers, body, channel_id="another")


def test_a_callback_timestamp_with_a_look_alike_digit_is_refused_not_a_crash() -> None:
    import time as _time

    import pytest

    from topup_client.signing import CallbackVerificationError, verify_callback

    body = b"{}"
    headers = signed_headers("demo", "cb-secret", "POST", "/notify", body)
    headers["X-Timestamp"] = str(int(_time.time()))[:-1] + "\u00b9"  # a superscript one: isdigit() says yes
    with pytest.raises(CallbackVerificationError, match="timestamp"):
        verify_callback("cb-secret", "POST", "/notify", headers, body)
