"""What a refused signature tells the channel: which header, the shape of the string to sign (with the hash of the
body we received), the server's clock on a timestamp error; never a secret or the signature we expected."""

from __future__ import annotations

import hashlib

from gateway.auth import parse_timestamp, signature_help, timestamp_help


def test_signature_help_shows_the_shape_and_the_received_body_hash() -> None:
    body = b'{"sku":"CREDIT_50"}'
    help_ = signature_help("post", "/v1/recharges?x=1", body, "A" * 44)
    assert help_["header"] == "X-Signature"
    assert help_["string_to_sign"] == (
        "POST\n/v1/recharges?x=1\n<X-Timestamp>\n<X-Nonce>\n" + hashlib.sha256(body).hexdigest())
    assert help_["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert help_["body_bytes"] == len(body)
    assert help_["signature_read_as"] == "HMAC-SHA256"
    assert signature_help("GET", "/v1/products", b"", "A" * 344)["signature_read_as"] == "SHA256withRSA"


def test_timestamp_help_gives_the_server_time() -> None:
    assert timestamp_help(1700000400, now=1700000000.7, window=300) == {
        "header": "X-Timestamp", "server_time": 1700000000, "received": 1700000400, "skew_seconds": 400,
        "window_seconds": 300}


def test_timestamps_are_ascii_digits_only() -> None:
    assert parse_timestamp("1700000000") == 1700000000
    for bad in ["", "²", "١٧٠٠٠٠٠٠٠٠", "17000000000000", "-1", " 1", "1\n", "1.5"]:
        assert parse_timestamp(bad) is None, bad
