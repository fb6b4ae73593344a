"""Catalog and pricing through the gateway: channel price lists, data packs, combos, broadband, porting."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.e2e.conftest import new_id, recharge, staff_headers, wait_final
from topup_client import ApiError, AsyncTopupClient
from topup_devstack.stack import Stack


async def _subscriber(stack: Stack, account_type: str, account_id: str) -> dict:  # type: ignore[type-arg]
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{stack.boss}/boss/v1/subscribers/{account_type}/{account_id}")).json()  # type: ignore[no-any-return]


async def test_a_channel_sells_from_its_own_price_list(stack: Stack, new_channel) -> None:  # type: ignore[no-untyped-def]
    shop = await new_channel(f"shop{time.time_ns() % 10**8}")
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        reply = await http.put(f"/admin/v1/channels/{shop.channel_id}/prices", headers=staff_headers("admin"),
                               json={"prices": [{"sku": "CREDIT_50", "price_fen": 4900},
                                                {"sku": "DATA_5GB_30D", "price_fen": 2800}]})
        assert reply.status_code == 200, reply.text
        refused = await http.put(f"/admin/v1/channels/{shop.channel_id}/prices", headers=staff_headers("reviewer"),
                                 json={"prices": []})
        assert (refused.status_code, refused.json()["code"]) == (403, "ADMIN_FORBIDDEN")
    offer = await shop.products("18612345678")
    assert {p["sku"]: p["price_fen"] for p in offer["products"]} == {"CREDIT_50": 4900, "DATA_5GB_30D": 2800}
    with pytest.raises(ApiError) as err:  # the face value is not this channel's price
        await shop.create_recharge(**recharge(sku="CREDIT_50", paid_fen=5000))
    assert err.value.code == "PRICE_MISMATCH"
    with pytest.raises(ApiError) as err:
        await shop.create_recharge(**recharge(sku="CREDIT_100", paid_fen=10000))
    assert err.value.code == "SKU_NOT_AVAILABLE"
    order = await shop.create_recharge(**recharge(sku="CREDIT_50", paid_fen=4900))
    assert (order["price_fen"], order["face_value_fen"], order["payment"]["paid_fen"]) == (4900, 5000, 4900)


async def test_bad_price_lists_are_refused(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        for body, code in [({"prices": [{"sku": "CREDIT_55", "price_fen": 100}]}, "SKU_UNKNOWN"),
                           ({"prices": [{"sku": "CREDIT_50", "price_fen": 49.5}]}, "INVALID_REQUEST"),
                           ({"prices": [{"sku": "CREDIT_50", "price_fen": 0}]}, "INVALID_REQUEST"),
                           ({"prices": [{"sku": "CREDIT_50", "price_fen": 1}] * 2}, "INVALID_REQUEST")]:
            reply = await http.put("/admin/v1/channels/demo/prices", headers=staff_headers("admin"), json=body)
            assert reply.json()["code"] == code, body
        prices = await http.get("/admin/v1/channels/demo/prices", headers=staff_headers("finance"))
    assert {p["sku"]: p["price_fen"] for p in prices.json()["prices"]}["CREDIT_50"] == 5000  # unchanged


async def test_a_data_pack_reaches_boss_as_a_data_pack(client: AsyncTopupClient, stack: Stack) -> None:
    before = await _subscriber(stack, "mobile", "18612340011")
    order = await client.create_recharge(**recharge("18612340011", "DATA_5GB_30D", 3000))
    assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    after = await _subscriber(stack, "mobile", "18612340011")
    assert (after["data_mb"] - before["data_mb"], after["balance_fen"] - before["balance_fen"]) == (5120, 0)


async def test_a_combo_delivers_both_parts(client: AsyncTopupClient, stack: Stack) -> None:
    before = await _subscriber(stack, "mobile", "18612340012")
    order = await client.create_recharge(**recharge("18612340012", "COMBO_50_5GB", 7800))
    assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    after = await _subscriber(stack, "mobile", "18612340012")
    assert (after["data_mb"] - before["data_mb"], after["balance_fen"] - before["balance_fen"]) == (5120, 5000)


async def test_a_combo_half_delivered_goes_to_a_person(client: AsyncTopupClient, stack: Stack) -> None:
    # 18600000007: BOSS provisions the data pack, then refuses the call credit.
    order = await client.create_recharge(**recharge("18600000007", "COMBO_50_5GB", 7800))
    done = await wait_final(client, order["order_id"])
    assert (done["status"], done["status_reason_code"]) == ("UNDER_REVIEW", "COMBO_PARTIALLY_FULFILLED")
    plain = await client.create_recharge(**recharge("18600000007", "CREDIT_10", 1000))
    assert (await wait_final(client, plain["order_id"]))["status_reason_code"] == "BOSS_CREDIT_BLOCKED"


async def test_broadband_accounts_take_broadband_credit(client: AsyncTopupClient, stack: Stack) -> None:
    offer = await client.products("01087654321")
    assert offer["account"]["type"] == "broadband"
    assert {p["sku"] for p in offer["products"]} == {"BROADBAND_50", "BROADBAND_100", "BROADBAND_200",
                                                     "BROADBAND_500"}
    order = await client.create_recharge(**recharge("01087654321", "BROADBAND_100", 10000,
                                                    account_type="broadband"))
    assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    with pytest.raises(ApiError) as err:
        await client.create_recharge(**recharge("01087654321", "CREDIT_50", 5000, account_type="broadband"))
    assert err.value.code == "SKU_NOT_AVAILABLE"
    with pytest.raises(ApiError) as err:  # an area where Unicom is not the fixed-line operator
        await client.products("075587654321")
    assert err.value.code == "ACCOUNT_NOT_SERVED"


async def test_ported_numbers_follow_what_boss_publishes(client: AsyncTopupClient) -> None:
    """18699999999 was issued by Unicom and ported away; 13800138000 was issued by China Mobile and ported to
    Unicom. The billing adapter relays BOSS's publication; the order core's routing table follows."""
    deadline = time.monotonic() + 30
    while True:
        try:
            await client.products("18699999999")
        except ApiError as err:
            refusal = err.code
            break
        assert time.monotonic() < deadline, "the ported-away number was never refused"
        await asyncio.sleep(0.5)
    assert refusal == "ACCOUNT_NOT_SERVED"
    assert (await client.products("13800138000"))["carrier"] == "unicom"
    order = await client.create_recharge(**recharge("13800138000", "CREDIT_10", 1000))
    assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    with pytest.raises(ApiError) as err:
        await client.create_recharge(**recharge("18699999999", "CREDIT_10", 1000))
    assert err.value.code == "ACCOUNT_NOT_SERVED"
    assert new_id()
