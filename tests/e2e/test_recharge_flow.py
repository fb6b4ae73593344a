"""The walking skeleton's done-when, end to end through the gateway."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.e2e.conftest import provider_ledger, recharge, staff_headers, wait_final
from topup.billing.v1 import billing_pb2, billing_pb2_grpc
from topup_client import ApiError, AsyncTopupClient
from topup_devstack.stack import Stack


async def test_a_signed_credit_50_reaches_succeeded(client: AsyncTopupClient, stack: Stack) -> None:
    body = recharge()
    async with httpx.AsyncClient() as http:
        before = (await http.get(f"{stack.boss}/boss/v1/subscribers/mobile/{body['account_id']}")).json()["balance_fen"]
    order = await client.create_recharge(**body)
    assert client.last_response is not None and client.last_response.status_code == 201
    assert order["status"] in {"PENDING", "PROCESSING", "SUCCEEDED"}
    assert (order["sku"], order["face_value_fen"], order["payment"]["paid_fen"]) == ("CREDIT_50", 5000, 5000)

    done = await wait_final(client, order["order_id"])
    assert done["status"] == "SUCCEEDED"
    assert (await client.find_recharge(body["channel_order_id"]))["order_id"] == order["order_id"]
    history = (await client.request("GET", f"/v1/recharges/{order['order_id']}",
                                    query={"include_history": "true"}))["history"]
    assert [h["to_status"] for h in history] == ["PENDING", "PROCESSING", "SUCCEEDED"]
    async with httpx.AsyncClient() as http:
        after = (await http.get(f"{stack.boss}/boss/v1/subscribers/mobile/{body['account_id']}")).json()["balance_fen"]
    assert after - before == 5000  # credited at BOSS, exactly once, the face value


async def test_the_same_request_again_returns_the_same_order_with_200(client: AsyncTopupClient) -> None:
    body = recharge()
    first = await client.create_recharge(**body)
    again = await client.create_recharge(**body)
    assert client.last_response is not None
    assert client.last_response.status_code == 200
    assert client.last_response.headers["Idempotent-Replayed"] == "true"
    assert again == first


async def test_the_same_channel_order_id_with_another_body_is_409(client: AsyncTopupClient) -> None:
    body = recharge()
    first = await client.create_recharge(**body)
    with pytest.raises(ApiError) as err:
        await client.create_recharge(**{**body, "sku": "CREDIT_100", "paid_fen": 10000})
    assert (err.value.status, err.value.code) == (409, "IDEMPOTENCY_CONFLICT")
    assert (await client.find_recharge(body["channel_order_id"]))["order_id"] == first["order_id"]


@pytest.mark.parametrize(
    ("number", "status", "reason", "credit_attempts"),
    [
        ("18600000001", "REFUNDED", "BOSS_SUBSCRIBER_NOT_FOUND", 1),
        ("18600000002", "REFUNDED", "BOSS_SUBSCRIBER_SUSPENDED", 1),
        ("18600000003", "SUCCEEDED", None, 3),
        ("18600000004", "REFUNDED", "BOSS_BUSY_RETRIES_EXHAUSTED", 4),
        ("18600000005", "SUCCEEDED", None, 1),
        ("18600000006", "UNDER_REVIEW", "BOSS_NO_ANSWER", 1),
        # the first write is held up inside BOSS until after its deadline (so never applied), then busy: the
        # failure is concluded only once that first write can no longer land, and BOSS confirms it did not
        ("18600000008", "REFUNDED", "BOSS_BUSY_RETRIES_EXHAUSTED", 4),
    ],
)
async def test_sandbox_numbers_end_where_the_table_says(
    client: AsyncTopupClient, stack: Stack, number: str, status: str, reason: str | None, credit_attempts: int
) -> None:
    order = await client.create_recharge(**recharge(number, "CREDIT_10", 1000))
    done = await wait_final(client, order["order_id"])
    assert (done["status"], done["status_reason_code"]) == (status, reason)
    if status == "REFUNDED":  # exactly what was paid went back, once, to the original payment path
        async with httpx.AsyncClient(base_url=stack.gateway) as http:
            seen = (await http.get(f"/admin/v1/orders/{order['order_id']}", headers=staff_headers("reviewer"))).json()
        assert [c["transition"] for c in seen["history"]][-2:] == ["fail", "refund"]
        ledger = await provider_ledger(stack, "alipay", order["payment"]["transaction_id"])
        assert [(r["amount_fen"], r["status"]) for r in ledger["refunds"]] == [(1000, "SETTLED")]
    async with stack.channel("billing") as channel:
        fulfilment = await billing_pb2_grpc.BillingServiceStub(channel).GetFulfilment(
            billing_pb2.GetFulfilmentRequest(order_id=order["order_id"]))
    writes = [a for a in fulfilment.attempts if a.kind == "credit"]
    assert len(writes) == credit_attempts
    if status == "REFUNDED":  # refunded, so never credited: BOSS's own word on the transaction, checked last
        await asyncio.sleep(2)  # longer than any write of it could be held up inside BOSS
        async with httpx.AsyncClient(base_url=stack.boss) as http:
            credit = order["order_id"].replace("-", "") + "-c"  # our transaction id for the order's credit
            boss = (await http.get(f"/boss/v1/transactions/{credit}")).json()
        assert boss.get("transaction", {}).get("status") != "SUCCESS", boss
    if number == "18600000005":  # the reply was lost; a status query, not a second credit, settled it
        assert [a.outcome for a in writes] == ["unknown"]
        assert any(a.kind == "status_query" and a.outcome == "success" for a in fulfilment.attempts)
    if number == "18600000006":  # never guessed: queried, still unknown, left to a person
        assert [a.outcome for a in fulfilment.attempts if a.kind == "status_query"] == ["unknown"] * 3


async def test_products_preflight(client: AsyncTopupClient) -> None:
    offer = await client.products("18612345678")
    assert offer["carrier"] == "unicom"
    prices = {p["sku"]: p["price_fen"] for p in offer["products"]}
    assert {f"CREDIT_{v}" for v in (10, 20, 30, 50, 100, 200, 300, 500)} <= set(prices)
    assert prices["CREDIT_50"] == 5000 and all(isinstance(v, int) for v in prices.values())
    with pytest.raises(ApiError) as err:
        await client.products("13812345678")  # a China Mobile number
    assert (err.value.status, err.value.code) == (422, "ACCOUNT_NOT_SERVED")
