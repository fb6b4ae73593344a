"""One payment backs one order (DESIGN.md section 4, invariant 3), end to end: the same payment (method and
transaction id) under other channel_order_ids is refused with 409 PAYMENT_ALREADY_USED and writes nothing, even
when the attempts race; a retry of the order it backs is still answered with that order (the replay comes
before every other check); and a failed order is refunded exactly once, never more than was paid."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import Desk, new_id, provider_ledger, recharge, some_number, wait_final, wait_status
from topup_client import ApiError, AsyncTopupClient
from topup_devstack.stack import Stack

NOT_FOUND_AT_BOSS = "18600000001"


async def _rows(stack: Stack, transaction_id: str) -> dict[str, int]:
    """What the platform holds for one payment: orders, their history, refunds (an order's events leave the
    outbox once published: a refused request's would have made an order and its history first)."""
    conn = await asyncpg.connect(stack.ports["database_url"])
    try:
        orders = await conn.fetch("SELECT order_id FROM orders.orders WHERE payment_transaction_id = $1",
                                  transaction_id)
        ids = [r["order_id"] for r in orders]
        return {
            "orders": len(ids),
            "history": await conn.fetchval("SELECT count(*) FROM orders.order_history WHERE order_id = ANY($1)", ids),
            "refunds": await conn.fetchval(
                "SELECT count(*) FROM refunds.refunds WHERE payment_transaction_id = $1", transaction_id),
        }
    finally:
        await conn.close()


async def _attempt(client: AsyncTopupClient, body: dict[str, Any]) -> tuple[int, Any]:
    try:
        order = await client.create_recharge(**body)
    except ApiError as err:
        return err.status, err
    assert client.last_response is not None
    return client.last_response.status_code, order


async def test_a_payment_under_three_channel_order_ids_makes_one_order(client: AsyncTopupClient,
                                                                       stack: Stack) -> None:
    first_body = recharge()
    first = await client.create_recharge(**first_body)
    assert (await wait_final(client, first["order_id"]))["status"] == "SUCCEEDED"  # at rest: its rows stay put
    before = await _rows(stack, first_body["transaction_id"])
    assert before["orders"] == 1

    for _ in range(2):
        reuse = {**first_body, "channel_order_id": new_id(), "account_id": some_number()}
        with pytest.raises(ApiError) as err:
            await client.create_recharge(**reuse)
        assert (err.value.status, err.value.code) == (409, "PAYMENT_ALREADY_USED")
        assert err.value.body["details"]["order_id"] == first["order_id"]  # the order this payment backs
        with pytest.raises(ApiError) as missing:  # nothing was written under the refused channel_order_id
            await client.find_recharge(reuse["channel_order_id"])
        assert missing.value.code == "ORDER_NOT_FOUND"

    # the channel's retry of the order the payment backs is answered with it, before the payment check
    again = await client.create_recharge(**first_body)
    assert client.last_response is not None and client.last_response.status_code == 200
    assert again["order_id"] == first["order_id"]
    assert await _rows(stack, first_body["transaction_id"]) == before  # no new row anywhere


async def test_the_same_payment_is_also_refused_in_english_and_for_another_method(client: AsyncTopupClient) -> None:
    body = recharge()
    await client.create_recharge(**body)
    with pytest.raises(ApiError) as err:
        await client.request("POST", "/v1/recharges", headers={"Accept-Language": "en"}, body={
            "channel_order_id": new_id(), "account": {"type": "mobile", "id": some_number()}, "sku": "CREDIT_50",
            "payment": {"method": "alipay", "transaction_id": body["transaction_id"], "paid_fen": 5000}})
    assert err.value.code == "PAYMENT_ALREADY_USED" and "payment" in err.value.message
    # the payment identity is (channel, method, transaction id): the same id at another provider is another payment
    other = await client.create_recharge(**{**body, "channel_order_id": new_id(), "payment_method": "wechat"})
    assert other["payment"]["method"] == "wechat"


async def test_twenty_racing_uses_of_one_payment_make_exactly_one_order(client: AsyncTopupClient,
                                                                         stack: Stack) -> None:
    transaction_id = new_id("PAY")
    bodies = [recharge(transaction_id=transaction_id) for _ in range(20)]
    results = await asyncio.gather(*(_attempt(client, b) for b in bodies))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 19, statuses
    assert {r.code for status, r in results if status == 409} == {"PAYMENT_ALREADY_USED"}
    assert (await _rows(stack, transaction_id))["orders"] == 1


async def test_a_failed_order_is_refunded_once_whatever_reuses_its_payment(client: AsyncTopupClient,
                                                                            stack: Stack) -> None:
    transaction_id = f"PAY-{time.time_ns()}"
    bodies = [recharge(NOT_FOUND_AT_BOSS, transaction_id=transaction_id) for _ in range(3)]
    results = [await _attempt(client, b) for b in bodies]
    assert [status for status, _ in results] == [201, 409, 409]
    order = results[0][1]
    assert (await wait_status(client, order["order_id"], "REFUNDED"))["status"] == "REFUNDED"
    await asyncio.sleep(2)  # room for anything else to be (wrongly) refunded
    ledger = await provider_ledger(stack, "alipay", transaction_id)
    assert ledger["refunded_fen"] == 5000 == order["payment"]["paid_fen"]
    assert len(ledger["refunds"]) == 1
    assert (await _rows(stack, transaction_id))["refunds"] == 1


async def test_a_payment_another_channel_already_presented_is_refused(client: AsyncTopupClient, stack: Stack,
                                                                       new_channel: Any) -> None:
    """A provider's transaction is one payment whichever partner presents it: the second channel's order is
    refused (without being told the first channel's order), and the provider refunds the first order alone.
    (Where refunds are decided, the refund service's ledger per payment caps them too: test_payment_ledger.)"""
    other = await new_channel(f"reuse{time.time_ns() % 10**9}", prices=[{"sku": "CREDIT_50", "price_fen": 5000}])
    transaction_id = f"PAY-{time.time_ns()}"
    first = await client.create_recharge(**recharge(NOT_FOUND_AT_BOSS, transaction_id=transaction_id))
    with pytest.raises(ApiError) as refused:
        await other.create_recharge(**recharge(NOT_FOUND_AT_BOSS, transaction_id=transaction_id))
    assert (refused.value.status, refused.value.code) == (409, "PAYMENT_ALREADY_USED")
    assert "order_id" not in refused.value.body.get("details", {})
    assert (await wait_status(client, first["order_id"], "REFUNDED"))["status"] == "REFUNDED"
    await asyncio.sleep(2)  # room for anything else to be (wrongly) refunded
    ledger = await provider_ledger(stack, "alipay", transaction_id)
    assert (ledger["refunded_fen"], len(ledger["refunds"])) == (5000, 1)
    assert (await _rows(stack, transaction_id))["orders"] == 1


async def test_a_refund_the_provider_refuses_as_more_than_was_paid_is_final(client: AsyncTopupClient, stack: Stack,
                                                                             desk: Desk) -> None:
    """The provider's own cap (its REFUND_EXCEEDS_PAYMENT) ends the refund: FAILED at once, never sent again, never
    taken as paid, and a case a person closes (the money went back already: never paid back by hand)."""
    transaction_id = f"PAY-{time.time_ns()}"
    async with httpx.AsyncClient(base_url=stack.payments) as http:  # the provider knows it as a 10-yuan payment
        (await http.post("/alipay/v1/payments", json={"transaction_id": transaction_id, "amount_fen": 1000}))\
            .raise_for_status()
    order = await client.create_recharge(**recharge(NOT_FOUND_AT_BOSS, transaction_id=transaction_id))
    refund = await desk.refund_of(order["order_id"], until="FAILED")
    assert refund["attempts"] == 1 and [e["what"] for e in refund["events"]] == ["requested", "failed"]
    case = await desk.case_of(order["order_id"], kind="REFUND_FAILED")
    assert (case["reason_code"], case["allowed_actions"]) == ("REFUND_EXCEEDS_PAYMENT", ["close"])
    assert (await client.get_recharge(order["order_id"]))["status"] == "FAILED"
    ledger = await provider_ledger(stack, "alipay", transaction_id)
    assert (ledger["refunded_fen"], [r["status"] for r in ledger["refunds"]]) == (0, ["REJECTED"])
