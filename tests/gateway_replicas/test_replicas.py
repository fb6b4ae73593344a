"""Several gateway replicas on one platform: callbacks survive a gateway's death and restart, events that
arrive while no gateway consumes are called back later, and nonces and quotas hold across replicas."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import CallbackSink, create_channel, recharge, secret_of, staff_headers, wait_final
from tests.gateway_replicas.conftest import Gateway, wait_until
from topup_client import AsyncTopupClient, verify_callback
from topup_client.signing import signed_headers
from topup_devstack.stack import Stack


def _callbacks(gateway: Gateway, order_id: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{gateway.url}/admin/v1/orders/{order_id}/callbacks", headers=staff_headers("reviewer"),
                      timeout=5)
    assert reply.status_code == 200, reply.text
    return reply.json()["callbacks"]  # type: ignore[no-any-return]


@pytest.mark.timeout(180)
async def test_a_callback_survives_a_gateway_restart(gstack: Stack, gateways: Callable[..., Gateway],
                                                     sink: Callable[..., CallbackSink]) -> None:
    endpoint = sink(500, 500, 200)  # the channel's endpoint fails twice, then accepts
    first = gateways()
    async with AsyncTopupClient(first.url, "demo", "demo-secret", retries=0) as client:
        order = await client.create_recharge(**recharge(notify_url=endpoint.url()))
        assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    wait_until(lambda: [c for c in _callbacks(first, order["order_id"]) if c["attempts"] == 1], 20,
               "the first attempt")
    first.kill()  # before the second attempt is due (1.5 s later)
    await asyncio.sleep(2.5)
    assert len(endpoint.received) == 1, "nobody sends while no gateway runs"

    second = gateways(port=first.port)  # the restart
    received = await endpoint.wait_for(3, timeout=30)
    assert len(received) == 3
    for path, headers, body in received:
        assert verify_callback("demo-secret", "POST", path, headers, body)["order"]["order_id"] == order["order_id"]
    [callback] = wait_until(lambda: [c for c in _callbacks(second, order["order_id"]) if c["state"] == "delivered"],
                            20, "delivery")
    log = callback["attempt_log"]
    assert [a["http_status"] for a in log] == [500, 500, 200]
    assert log[0]["replica"] != log[1]["replica"] == log[2]["replica"], "the restarted gateway carried on"
    await asyncio.sleep(2)
    assert len(endpoint.received) == 3, "delivered once, never again"


@pytest.mark.timeout(180)
async def test_final_statuses_reached_while_no_gateway_consumes_are_called_back_later(
        gstack: Stack, gateways: Callable[..., Gateway], sink: Callable[..., CallbackSink]) -> None:
    endpoint = sink(200)
    # a replica that takes orders but does not deliver callbacks (GATEWAY_CALLBACKS_ENABLED=false)
    front = gateways(GATEWAY_CALLBACKS_ENABLED="false")
    async with AsyncTopupClient(front.url, "demo", "demo-secret", retries=0) as client:
        orders = [await client.create_recharge(**recharge(notify_url=endpoint.url())) for _ in range(3)]
        for order in orders:
            assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    await asyncio.sleep(1)
    assert endpoint.received == []
    gateways()  # a replica with callbacks: it consumes the events it missed and calls back
    received = await endpoint.wait_for(3, timeout=40)
    assert sorted(verify_callback("demo-secret", "POST", p, h, b)["order"]["order_id"] for p, h, b in received) == \
        sorted(o["order_id"] for o in orders)


@pytest.mark.timeout(120)
async def test_nonces_and_quotas_hold_across_replicas(gstack: Stack, gateways: Callable[..., Gateway]) -> None:
    one, two = gateways(), gateways()
    wait_until(lambda: one.metric("topup_gateway_replicas") == two.metric("topup_gateway_replicas") == 2, 15,
               "both replicas counting two")

    # a request accepted by one replica is a replay at the other
    path = "/v1/products?account=18612345678"
    headers = signed_headers("demo", "demo-secret", "GET", path, b"")
    async with httpx.AsyncClient() as http:
        assert (await http.get(one.url + path, headers=headers)).status_code == 200
        replay = await http.get(two.url + path, headers=headers)
    assert (replay.status_code, replay.json()["code"]) == (401, "AUTH_NONCE_REPLAYED")

    # a channel registered at one replica works at the other at once; each replica holds half its burst
    cid = f"pair{time.time_ns() % 10**9}"
    created = await create_channel(one.url, cid, quota={"rate_per_second": 1, "burst": 10},
                                   prices=[{"sku": "CREDIT_10", "price_fen": 1000}])
    ok: dict[str, int] = {}
    for gateway in (one, two):
        async with AsyncTopupClient(gateway.url, cid, secret_of(created, "hmac"), retries=0) as client:
            async def call(c: AsyncTopupClient = client) -> int:
                try:
                    await c.products("18612345678")
                    return 200
                except Exception as err:
                    return getattr(err, "status", 0)

            codes = await asyncio.gather(*(call() for _ in range(10)))
        assert set(codes) <= {200, 429}
        ok[gateway.url] = codes.count(200)
    assert all(5 <= n <= 6 for n in ok.values()), ok  # 10 / 2 each (and perhaps one refilled token)
    assert sum(ok.values()) <= 12, "the channel's burst of 10 holds across both replicas"
