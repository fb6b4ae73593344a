"""Bad input gets a documented 4xx code and changes nothing; never a 5xx."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import new_id
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
