"""The signature scheme: every refusal is a 401 with its own code, and changes nothing."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import new_id
from topup_client.signing import new_nonce, sign
from topup_devstack.stack import Stack

PATH = "/v1/recharges"


def _body() -> bytes:
    return json.dumps({
        "channel_order_id": new_id("auth"), "account": {"type": "mobile", "id": "18612345678"}, "sku": "CREDIT_10",
        "payment": {"method": "alipay", "transaction_id": new_id("PAY"), "paid_fen": 1000},
    }).encode()


def _headers(body: bytes, *, channel: str = "demo", secret: str = "demo-secret", ts: int | None = None,
             nonce: str | None = None, method: str = "POST", path: str = PATH) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    nonce = nonce or new_nonce()
    return {"X-Channel-Id": channel, "X-Timestamp": str(ts), "X-Nonce": nonce, "Content-Type": "application/json",
            "X-Signature": sign(secret, method, path, ts, nonce, body)}


async def _post(stack: Stack, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        return await http.post(PATH, content=body, headers=headers)


async def _created(stack: Stack, body: bytes) -> bool:
    channel_order_id = json.loads(body)["channel_order_id"]
    path = f"/v1/recharges?channel_order_id={channel_order_id}"
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        reply = await http.get(path, headers=_headers(b"", method="GET", path=path))
    return reply.status_code == 200


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("wrong_secret", "AUTH_SIGNATURE_INVALID"),
        ("tampered_body", "AUTH_SIGNATURE_INVALID"),
        ("stale_timestamp", "AUTH_TIMESTAMP_EXPIRED"),
        ("future_timestamp", "AUTH_TIMESTAMP_EXPIRED"),
        ("unknown_channel", "AUTH_CHANNEL_UNKNOWN"),
        ("short_nonce", "AUTH_NONCE_INVALID"),
        ("no_signature", "AUTH_HEADERS_MISSING"),
        ("no_headers", "AUTH_HEADERS_MISSING"),
    ],
)
async def test_refused_with_401_and_a_code(stack: Stack, case: str, code: str) -> None:
    body = _body()
    headers: dict[str, Any] = {
        "wrong_secret": lambda: _headers(body, secret="not-the-secret"),
        "tampered_body": lambda: _headers(body.replace(b"CREDIT_10", b"CREDIT_20")),
        "stale_timestamp": lambda: _headers(body, ts=int(time.time()) - 310),
        "future_timestamp": lambda: _headers(body, ts=int(time.time()) + 310),
        "unknown_channel": lambda: _headers(body, channel="nobody"),
        "short_nonce": lambda: _headers(body, nonce="abc"),
        "no_signature": lambda: {k: v for k, v in _headers(body).items() if k != "X-Signature"},
        "no_headers": lambda: {"Content-Type": "application/json"},
    }[case]()
    reply = await _post(stack, body, headers)
    assert reply.status_code == 401
    payload = reply.json()
    assert payload["code"] == code
    assert payload["request_id"] and payload["message"]
    assert reply.headers["X-Request-Id"] == payload["request_id"]
    assert not await _created(stack, body)


async def test_a_replayed_nonce_is_refused(stack: Stack) -> None:
    body = _body()
    headers = _headers(body)
    assert (await _post(stack, body, headers)).status_code == 201
    replay = await _post(stack, body, headers)  # the exact same signed request, captured and sent again
    assert (replay.status_code, replay.json()["code"]) == (401, "AUTH_NONCE_REPLAYED")


async def test_messages_follow_accept_language(stack: Stack) -> None:
    body = _body()
    zh = await _post(stack, body, _headers(body, secret="wrong"))
    en = await _post(stack, body, {**_headers(body, secret="wrong"), "Accept-Language": "en"})
    assert zh.json()["message"] == "签名校验失败"
    assert en.json()["message"] == "The signature does not verify"


async def test_a_bad_signature_says_what_was_expected_to_be_signed_shape_only(stack: Stack) -> None:
    body = _body()
    good = _headers(body)
    reply = await _post(stack, body, _headers(body, secret="not-the-secret"))
    assert (reply.status_code, reply.json()["code"]) == (401, "AUTH_SIGNATURE_INVALID")
    details = reply.json()["details"]
    body_hash = hashlib.sha256(body).hexdigest()
    assert details["header"] == "X-Signature"
    assert details["string_to_sign"] == f"POST\n{PATH}\n<X-Timestamp>\n<X-Nonce>\n{body_hash}"
    assert details["body_sha256"] == body_hash
    assert "demo-secret" not in reply.text  # never the secret, never the signature we expected
    expected = sign("demo-secret", "POST", PATH, good["X-Timestamp"], good["X-Nonce"], body)
    assert expected not in reply.text
    assert not await _created(stack, body)


async def test_a_timestamp_error_gives_the_server_time(stack: Stack) -> None:
    body = _body()
    sent = int(time.time()) - 400
    reply = await _post(stack, body, _headers(body, ts=sent))
    assert (reply.status_code, reply.json()["code"]) == (401, "AUTH_TIMESTAMP_EXPIRED")
    details = reply.json()["details"]
    assert details["header"] == "X-Timestamp"
    assert details["received"] == sent and details["window_seconds"] == 300
    assert abs(details["server_time"] - time.time()) < 30
    assert details["skew_seconds"] == sent - details["server_time"]


@pytest.mark.parametrize(("header", "value"), [("X-Timestamp", "²"), ("X-Timestamp", "abc"), ("X-Channel-Id", "DEMO")])
async def test_a_malformed_header_is_named_and_never_a_5xx(stack: Stack, header: str, value: str) -> None:
    body = _body()
    headers: dict[str, Any] = {**_headers(body), header: value.encode("latin-1")}
    reply = await _post(stack, body, headers)
    assert (reply.status_code, reply.json()["code"]) == (401, "AUTH_HEADERS_MISSING")
    assert reply.json()["details"]["header"] == header


async def test_a_missing_header_is_named(stack: Stack) -> None:
    body = _body()
    headers = {k: v for k, v in _headers(body).items() if k != "X-Nonce"}
    reply = await _post(stack, body, headers)
    assert (reply.status_code, reply.json()["code"]) == (401, "AUTH_HEADERS_MISSING")
    assert reply.json()["details"]["headers"] == ["X-Nonce"]
