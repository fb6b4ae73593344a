"""The published signature test vectors (docs/signing/test-vectors.json): the SDK signs every one of them to the
published signature, and the gateway's verifier (the channel's keys, as the gateway holds them) accepts every one
and refuses it once anything in it changes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from gateway.auth import path_with_query
from gateway.channels import Channel, HmacKey, RsaKey, load_rsa_public_key
from topup_client.signing import load_private_key, sign, sign_rsa, string_to_sign, verify, verify_rsa

VECTORS_FILE = Path(__file__).resolve().parents[4] / "docs" / "signing" / "test-vectors.json"
DOC: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
VECTORS: list[dict[str, str]] = DOC["vectors"]
PRIVATE = load_private_key(DOC["test_rsa_key"]["private_key_pem"])
PUBLIC = load_rsa_public_key(DOC["test_rsa_key"]["public_key_pem"])


def _args(v: dict[str, str]) -> tuple[str, str, str, str, bytes]:
    return v["method"], v["path_with_query"], v["timestamp"], v["nonce"], v["body"].encode("utf-8")


def _channel(v: dict[str, str]) -> Channel:
    if v["algorithm"] == "HMAC-SHA256":
        return Channel("vectors", "Vectors", True, hmac_keys=(HmacKey("k1", v["secret"].encode("utf-8")),))
    return Channel("vectors", "Vectors", True, rsa_keys=(RsaKey("r1", PUBLIC),))


def test_the_file_covers_both_schemes_and_marks_its_key_test_only() -> None:
    assert {v["algorithm"] for v in VECTORS} == {"HMAC-SHA256", "SHA256withRSA"}
    assert len({v["name"] for v in VECTORS}) == len(VECTORS) >= 6
    assert "TEST ONLY" in DOC["test_rsa_key"]["warning"]
    assert PRIVATE.public_key().public_numbers() == PUBLIC.public_numbers()


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_the_sdk_builds_the_string_and_the_signature(v: dict[str, str]) -> None:
    assert hashlib.sha256(v["body"].encode("utf-8")).hexdigest() == v["body_sha256"]
    assert string_to_sign(*_args(v)) == v["string_to_sign"].encode("utf-8")
    if v["algorithm"] == "HMAC-SHA256":
        assert sign(v["secret"], *_args(v)) == v["signature"]
        assert verify(v["secret"], v["signature"], *_args(v))
    else:
        assert sign_rsa(PRIVATE, *_args(v)) == v["signature"]
        assert verify_rsa(PUBLIC, v["signature"], *_args(v))


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_the_gateway_verifies_it_and_refuses_any_change(v: dict[str, str]) -> None:
    channel = _channel(v)
    method, path, ts, nonce, body = _args(v)
    assert channel.verify(v["signature"], method, path, ts, nonce, body)
    for changed in [(method, path + "&x=1" if "?" in path else path + "?x=1", ts, nonce, body),
                    (method, path, str(int(ts) + 1), nonce, body),
                    (method, path, ts, nonce[::-1], body),
                    (method, path, ts, nonce, body + b" "),
                    ("PUT", path, ts, nonce, body)]:
        assert not channel.verify(v["signature"], *changed)
    other = next(o for o in VECTORS if o["algorithm"] == v["algorithm"] and o["name"] != v["name"])
    assert not channel.verify(other["signature"], method, path, ts, nonce, body)


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_the_gateway_signs_the_path_and_query_exactly_as_sent(v: dict[str, str]) -> None:
    path, _, query = v["path_with_query"].partition("?")
    request = Request({"type": "http", "method": v["method"], "path": path, "raw_path": path.encode("latin-1"),
                       "query_string": query.encode("latin-1"), "headers": []})
    assert path_with_query(request) == v["path_with_query"]
