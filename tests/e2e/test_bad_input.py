"""Bad input gets a documented 4xx code and changes nothing; never a 5xx."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import new_id, recharge, staff_headers
from topup_client import AsyncTopupClient
from topup_client.signing import signed_headers
from topup_devstack.stack import Stack


def _valid() -> dict:  # type: ignore[type-arg]
    return {"channel_order_id": new_id("bad"), "account": {"type": "mobile", "id": "18612345678"},
            "sku": "CREDIT_50", "payment": {"method": "alipay", "transaction_id": new_id("PAY"), "paid_fen": 5000}}


def _with(path: str, value: object) -> bytes:
    body = _valid()
    *parents, leaf = path.split(".")
    node = body
    for p in parents:
        node = node[p]
    if value is _DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return json.dumps(body).encode()


_DELETE = object()

CASES = [
    ("not json", b"{not json", 400, "INVALID_REQUEST"),
    ("a json array", b"[]", 400, "INVALID_REQUEST"),
    ("empty body", b"", 400, "INVALID_REQUEST"),
    ("missing sku", _with("sku", _DELETE), 400, "INVALID_REQUEST"),
    ("missing payment", _with("payment", _DELETE), 400, "INVALID_REQUEST"),
    ("paid_fen as float", _with("payment.paid_fen", 50.0), 400, "INVALID_REQUEST"),
    ("paid_fen as string", _with("payment.paid_fen", "5000"), 400, "INVALID_REQUEST"),
    ("paid_fen negative", _with("payment.paid_fen", -5000), 400, "INVALID_REQUEST"),
    ("paid_fen zero", _with("payment.paid_fen", 0), 400, "INVALID_REQUEST"),
    ("paid_fen huge", _with("payment.paid_fen", 10**30), 400, "INVALID_REQUEST"),
    ("unknown payment method", _with("payment.method", "bitcoin"), 400, "INVALID_REQUEST"),
    ("voucher as payment method", _with("payment.method", "voucher"), 400, "INVALID_REQUEST"),
    ("unknown field", _with("coupon", "FREE"), 400, "INVALID_REQUEST"),
    ("account type", _with("account.type", "landline"), 400, "INVALID_REQUEST"),
    ("10-digit number", _with("account.id", "1861234567"), 400, "ACCOUNT_INVALID"),
    ("letters in number", _with("account.id", "1861234567x"), 400, "ACCOUNT_INVALID"),
    ("not a Unicom number", _with("account.id", "13812345678"), 422, "ACCOUNT_NOT_SERVED"),
    ("lower-case sku", _with("sku", "credit_50"), 400, "INVALID_REQUEST"),
    ("unknown sku", _with("sku", "CREDIT_55"), 422, "SKU_UNKNOWN"),
    ("broadband sku to a mobile", _with("sku", "BROADBAND_50"), 422, "SKU_NOT_AVAILABLE"),
    ("price mismatch", _with("payment.paid_fen", 4999), 422, "PRICE_MISMATCH"),
    ("channel_order_id too long", _with("channel_order_id", "x" * 65), 400, "INVALID_REQUEST"),
    ("channel_order_id with spaces", _with("channel_order_id", "a b"), 400, "INVALID_REQUEST"),
    ("notify_url not http", _with("notify_url", "ftp://x"), 400, "INVALID_REQUEST"),
    ("body too large", b"{" + b" " * 70_000 + b"}", 413, "PAYLOAD_TOO_LARGE"),
]


async def _post(stack: Stack, body: bytes) -> httpx.Response:
    headers = {**signed_headers("demo", "demo-secret", "POST", "/v1/recharges", body),
               "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        return await http.post("/v1/recharges", content=body, headers=headers)


@pytest.mark.parametrize(("case", "body", "status", "code"), CASES, ids=[c[0] for c in CASES])
async def test_bad_body(stack: Stack, case: str, body: bytes, status: int, code: str) -> None:
    reply = await _post(stack, body)
    assert (reply.status_code, reply.json()["code"]) == (status, code), reply.text
    try:
        channel_order_id = json.loads(body).get("channel_order_id")
    except (ValueError, AttributeError):
        return
    if isinstance(channel_order_id, str) and len(channel_order_id) <= 64 and " " not in channel_order_id:
        path = f"/v1/recharges?channel_order_id={channel_order_id}"
        async with httpx.AsyncClient(base_url=stack.gateway) as http:
            found = await http.get(path, headers=signed_headers("demo", "demo-secret", "GET", path, b""))
        assert (found.status_code, found.json()["code"]) == (404, "ORDER_NOT_FOUND")  # nothing was created


async def test_unknown_routes_and_methods_use_the_error_model(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        missing = await http.get("/v1/nothing-here")
        wrong = await http.delete("/v1/recharges")
    assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "METHOD_NOT_ALLOWED")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries({}, optional={
    "channel_order_id": JSON | st.text(max_size=70), "account": JSON | st.fixed_dictionaries(
        {"type": st.sampled_from(["mobile", "broadband", "x"]), "id": st.text("0123456789", max_size=13)}),
    "sku": JSON | st.sampled_from(["CREDIT_50", "CREDIT_10", "X"]), "payment": JSON, "notify_url": JSON,
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=FIELDS)
async def test_fuzzed_bodies_never_get_a_5xx(stack: Stack, body: dict) -> None:  # type: ignore[type-arg]
    reply = await _post(stack, json.dumps(body).encode())
    assert reply.status_code < 500, reply.text
    assert reply.json()["code"] if reply.status_code >= 400 else True


async def test_a_get_without_channel_order_id_is_400(stack: Stack) -> None:
    path = "/v1/recharges"
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        reply = await http.get(path, headers=signed_headers("demo", "demo-secret", "GET", path, b""))
    assert (reply.status_code, reply.json()["code"]) == (400, "INVALID_REQUEST")
    assert time.time() > 0


# --- Unicode look-alikes and stray characters in identifiers (issue 13, item 1) -----------------------------
# Python's `\d` and `isdigit()` take fullwidth, Arabic-Indic and superscript digits, and `$` matches before a
# trailing newline: such an id passed the block list, velocity and lockout under one key, and was credited at
# BOSS under another. Each is refused with its documented code, nothing is created, and BOSS hears nothing.

async def _db(stack: Stack) -> Any:
    return await asyncpg.connect(stack.ports["database_url"])


async def _nothing_created(stack: Stack, channel_order_id: str, account_id: str) -> None:
    conn = await _db(stack)
    try:
        assert await conn.fetchval("SELECT count(*) FROM orders.orders WHERE channel_order_id = $1",
                                   channel_order_id) == 0
        assert await conn.fetchval("SELECT count(*) FROM boss_sim.transactions WHERE account_id = $1",
                                   account_id) == 0
        assert await conn.fetchval("SELECT count(*) FROM boss_sim.subscribers WHERE account_id = $1",
                                   account_id) == 0
    finally:
        await conn.close()


LOOK_ALIKE_ACCOUNTS = [
    ("fullwidth digits", "mobile", "１８６１２３４５６７８"),
    ("one fullwidth digit", "mobile", "1861234567８"),
    ("Arabic-Indic digits", "mobile", "١٨٦١٢٣٤٥٦٧٨"),
    ("a trailing newline", "mobile", "18612345678\n"),
    ("a trailing newline (broadband)", "broadband", "01087654321\n"),
    ("a zero-width space", "mobile", "18612345678\u200b"),
]


@pytest.mark.parametrize(("case", "kind", "account_id"), LOOK_ALIKE_ACCOUNTS, ids=[c[0] for c in LOOK_ALIKE_ACCOUNTS])
async def test_an_account_id_with_look_alike_or_stray_characters_is_invalid(stack: Stack, case: str, kind: str,
                                                                            account_id: str) -> None:
    body = _valid()
    body["account"] = {"type": kind, "id": account_id}
    if kind == "broadband":
        body["sku"] = "BROADBAND_50"
    reply = await _post(stack, json.dumps(body).encode())
    assert (reply.status_code, reply.json()["code"]) == (400, "ACCOUNT_INVALID"), reply.text
    await _nothing_created(stack, body["channel_order_id"], account_id)


@pytest.mark.parametrize("transaction_id", ["2026112422001 ", "2026112422001\u200b", "２０２６１１２４２２００１"])
async def test_a_transaction_id_with_stray_or_look_alike_characters_is_refused(stack: Stack,
                                                                               transaction_id: str) -> None:
    body = _valid()
    body["account"]["id"] = account = f"1861{secrets.randbelow(10**7):07d}"
    body["payment"]["transaction_id"] = transaction_id
    reply = await _post(stack, json.dumps(body).encode())
    assert (reply.status_code, reply.json()["code"]) == (422, "PAYMENT_TRANSACTION_ID_INVALID"), reply.text
    await _nothing_created(stack, body["channel_order_id"], account)


async def test_a_pin_of_eighteen_non_ascii_digits_is_an_invalid_pin_not_a_500(stack: Stack) -> None:
    account = f"1861{secrets.randbelow(10**7):07d}"
    for pin in ("١" * 18, "１" * 18, "²" * 18):
        body = {"channel_order_id": new_id("pin"), "account": {"type": "mobile", "id": account}, "pin": pin}
        raw = json.dumps(body).encode()
        headers = {**signed_headers("demo", "demo-secret", "POST", "/v1/voucher-redemptions", raw),
                   "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=stack.gateway) as http:
            reply = await http.post("/v1/voucher-redemptions", content=raw, headers=headers)
        assert (reply.status_code, reply.json()["code"]) == (422, "VOUCHER_INVALID"), reply.text
        await _nothing_created(stack, body["channel_order_id"], account)


async def test_a_timestamp_with_a_superscript_digit_is_a_malformed_header_not_a_500(stack: Stack) -> None:
    body = json.dumps(_valid()).encode()
    headers: dict[str, Any] = {**signed_headers("demo", "demo-secret", "POST", "/v1/recharges", body),
                               "Content-Type": "application/json"}
    headers["X-Timestamp"] = (headers["X-Timestamp"][:-1]).encode() + b"\xb9"  # latin-1 superscript one
    logged = stack.log_path.stat().st_size
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        reply = await http.post("/v1/recharges", content=body, headers=headers)
    assert (reply.status_code, reply.json()["code"]) == (401, "AUTH_HEADERS_MISSING"), reply.text
    await asyncio.sleep(0.5)
    with stack.log_path.open("rb") as log:
        log.seek(logged)
        written = log.read()
    assert b"Traceback" not in written and b"unhandled error" not in written


@pytest.mark.parametrize("segment", ["{n}%3Fx=1", "{n}%3Fx%3D1", "%2E%2E", "{n}%23", "%EF%BC%91%EF%BC%98%EF%BC%96"])
async def test_a_balance_query_for_a_malformed_account_never_reaches_boss(stack: Stack, segment: str) -> None:
    """`18612345678?x=1` was pasted into BOSS's URL (its balance came back); `..` climbed a level (503)."""
    number = f"1861{secrets.randbelow(10**7):07d}"
    path = f"/v1/accounts/mobile/{segment.format(n=number)}/balance"
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        reply = await http.get(path, headers=signed_headers("demo", "demo-secret", "GET", path, b""))
    assert (reply.status_code, reply.json()["code"]) == (400, "ACCOUNT_INVALID"), reply.text
    await _nothing_created(stack, "-", number)  # BOSS made no subscriber of it: it was never asked


async def test_an_order_id_in_another_spelling_names_no_order(stack: Stack) -> None:
    async with AsyncTopupClient(stack.gateway, "demo", "demo-secret", retries=0) as client:
        order = await client.create_recharge(**recharge())
    alias = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in order["order_id"])  # fullwidth digits
    for spelling in (alias, order["order_id"].replace("-", ""), "{" + order["order_id"] + "}"):
        path = f"/v1/recharges/{quote(spelling, safe='')}"
        async with httpx.AsyncClient(base_url=stack.gateway) as http:
            reply = await http.get(path, headers=signed_headers("demo", "demo-secret", "GET", path, b""))
        assert (reply.status_code, reply.json()["code"]) == (404, "ORDER_NOT_FOUND"), (spelling, reply.text)


# --- Content-Type (issue 13, item 7) ------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml",
                                          "application/json; charset=latin-1", None])
async def test_a_body_that_is_not_declared_json_is_415(stack: Stack, content_type: str | None) -> None:
    body = _valid()
    raw = json.dumps(body).encode()
    headers = signed_headers("demo", "demo-secret", "POST", "/v1/recharges", raw)
    if content_type is not None:
        headers["Content-Type"] = content_type
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        reply = await http.post("/v1/recharges", content=raw, headers=headers)
        admin = await http.post("/admin/v1/voucher-batches", content=b'{"sku": "CREDIT_20", "count": 1}',
                                headers={**staff_headers("admin"), **({"Content-Type": content_type}
                                                                      if content_type else {})})
    assert (reply.status_code, reply.json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE"), reply.text
    assert (admin.status_code, admin.json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE"), admin.text
    await _nothing_created(stack, body["channel_order_id"], "-")


async def test_json_with_its_charset_is_json(stack: Stack) -> None:
    raw = json.dumps(_valid()).encode()
    headers = {**signed_headers("demo", "demo-secret", "POST", "/v1/recharges", raw),
               "Content-Type": "application/json; charset=utf-8"}
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        reply = await http.post("/v1/recharges", content=raw, headers=headers)
    assert reply.status_code == 201, reply.text
