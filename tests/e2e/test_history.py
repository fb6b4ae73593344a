"""Recharge history (F12): a channel's orders to an account, and the admin query across channels."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.e2e.conftest import recharge, staff_headers, wait_final
from topup_client import AsyncTopupClient
from topup_devstack.stack import Stack


async def _pages(client: AsyncTopupClient, path: str, **query: str) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await client.request("GET", path, query={**query, **({"cursor": cursor} if cursor else {})})
        orders += page["orders"]
        cursor = page["next_cursor"]
        if not cursor:
            return orders


async def test_every_attempt_newest_first_in_pages(client: AsyncTopupClient, stack: Stack, new_channel) -> None:  # type: ignore[no-untyped-def]
    account = f"1861{time.time_ns() % 10**7:07d}"
    made = []
    for sku, paid in [("CREDIT_10", 1000), ("CREDIT_20", 2000), ("CREDIT_10", 1000)]:
        made.append(await client.create_recharge(**recharge(account, sku, paid)))
    failed = await client.create_recharge(**recharge("18600000002", "CREDIT_10", 1000))  # suspended at BOSS
    for o in made:
        await wait_final(client, o["order_id"])
    await wait_final(client, failed["order_id"])
    other = await new_channel(f"other{time.time_ns() % 10**8}")
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        await http.put(f"/admin/v1/channels/{other.channel_id}/prices", headers=staff_headers("admin"),
                       json={"prices": [{"sku": "CREDIT_10", "price_fen": 990}]})
    theirs = await other.create_recharge(**recharge(account, "CREDIT_10", 990))

    path = f"/v1/accounts/mobile/{account}/recharges"
    mine = await _pages(client, path, limit="2")
    assert [o["order_id"] for o in mine] == [o["order_id"] for o in reversed(made)]  # newest first, 2 pages
    assert theirs["order_id"] not in {o["order_id"] for o in mine}  # another channel's orders stay theirs
    assert all(o["history"][-1]["to_status"] == "SUCCEEDED" for o in mine)
    assert [o["sku"] for o in await _pages(client, path, sku="CREDIT_20")] == ["CREDIT_20"]
    assert await _pages(client, path, status="REFUNDED") == []
    failed_history = await _pages(client, "/v1/accounts/mobile/18600000002/recharges", status="REFUNDED")
    assert failed["order_id"] in {o["order_id"] for o in failed_history}  # failed attempts are history too

    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        reply = await http.get("/admin/v1/orders", headers=staff_headers("reviewer"),
                               params={"account_type": "mobile", "account_id": account, "limit": 10})
        assert {o["channel_id"] for o in reply.json()["orders"]} == {"demo", other.channel_id}
        only_other = await http.get("/admin/v1/orders", headers=staff_headers("finance"),
                                    params={"channel": other.channel_id})
        assert [o["order_id"] for o in only_other.json()["orders"]] == [theirs["order_id"]]
        bad = await http.get("/admin/v1/orders", headers=staff_headers("finance"), params={"cursor": "garbage"})
        assert (bad.status_code, bad.json()["code"]) == (422, "CURSOR_INVALID")
        assert (await http.get("/admin/v1/orders")).status_code == 401
