"""Callbacks: a signed POST to notify_url on every final status, retried on a schedule until the channel
answers 2xx, each attempt visible to staff, re-sendable by staff."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import dead_url, recharge, secret_of, sink_prefixes, staff_headers, wait_final
from topup_client import AsyncTopupClient, CallbackVerificationError, verify_callback
from topup_devstack.stack import Stack


async def _callbacks(stack: Stack, order_id: str, until: Any = None, timeout: float = 20.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        while True:
            reply = await http.get(f"/admin/v1/orders/{order_id}/callbacks", headers=staff_headers("reviewer"))
            assert reply.status_code == 200, reply.text
            callbacks: list[dict[str, Any]] = reply.json()["callbacks"]
            if until is None or until(callbacks) or time.monotonic() > deadline:
                return callbacks
            await asyncio.sleep(0.1)


async def test_a_final_status_is_called_back_signed(client: AsyncTopupClient, stack: Stack, sink: Any) -> None:
    endpoint = sink(200)
    order = await client.create_recharge(**recharge(notify_url=endpoint.url("/notify?shop=1")))
    assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    [(path, headers, body)] = await endpoint.wait_for(1)
    # the demo channel's callback secret is its request secret (dev seeding); the SDK checks the signature
    payload = verify_callback("demo-secret", "POST", path, headers, body, channel_id="demo")
    assert path == endpoint.path("/notify?shop=1")
    assert payload["order"]["order_id"] == order["order_id"]
    assert payload["order"]["status"] == "SUCCEEDED"
    assert headers["X-Notify-Id"] == payload["notify_id"]
    with pytest.raises(CallbackVerificationError):
        verify_callback("another-secret", "POST", path, headers, body)
    [callback] = await _callbacks(stack, order["order_id"], lambda c: c and c[0]["state"] == "delivered")
    assert (callback["state"], callback["status"], callback["attempts"]) == ("delivered", "SUCCEEDED", 1)
    assert callback["attempt_log"][0]["http_status"] == 200
    assert callback["attempt_log"][0]["response_excerpt"] == "success"


async def test_retried_until_the_channel_answers_2xx(client: AsyncTopupClient, stack: Stack, sink: Any) -> None:
    endpoint = sink(500, 503, 200)
    order = await client.create_recharge(**recharge(notify_url=endpoint.url()))
    received = await endpoint.wait_for(3)
    assert len(received) == 3
    ids = {json.loads(body)["notify_id"] for _, _, body in received}
    assert len(ids) == 1, "every attempt carries the same notification"
    assert len({h["X-Nonce"] for _, h, _ in received}) == 3, "every attempt is signed afresh"
    [callback] = await _callbacks(stack, order["order_id"], lambda c: c and c[0]["state"] == "delivered")
    assert callback["state"] == "delivered"
    assert [a["http_status"] for a in callback["attempt_log"]] == [500, 503, 200]
    starts = [time.mktime(time.strptime(a["started_at"][:19], "%Y-%m-%dT%H:%M:%S")) for a in callback["attempt_log"]]
    assert starts == sorted(starts)


async def test_given_up_after_the_schedule_then_resent_by_staff(client: AsyncTopupClient, stack: Stack,
                                                                sink: Any) -> None:
    endpoint = sink(500)
    order = await client.create_recharge(**recharge(notify_url=endpoint.url()))
    [callback] = await _callbacks(stack, order["order_id"], lambda c: c and c[0]["state"] == "gave_up")
    assert callback["state"] == "gave_up"
    assert callback["attempts"] == 6  # the first, then one per entry of GATEWAY_CALLBACK_RETRY_SECONDS
    endpoint.answers = [200]
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        refused = await http.post(f"/admin/v1/orders/{order['order_id']}/callbacks/resend")
        assert refused.status_code == 401
        reply = await http.post(f"/admin/v1/orders/{order['order_id']}/callbacks/resend",
                                headers=staff_headers("reviewer", staff="bob"))
        assert reply.status_code == 202, reply.text
        none = await http.post("/admin/v1/orders/no-such-order/callbacks/resend", headers=staff_headers("finance"))
        assert (none.status_code, none.json()["code"]) == (404, "CALLBACK_NOT_FOUND")
    [callback] = await _callbacks(stack, order["order_id"], lambda c: c and c[0]["state"] == "delivered")
    assert callback["state"] == "delivered"
    assert callback["attempt_log"][-1]["trigger"] == "resend:bob"
    assert callback["attempt_log"][-1]["http_status"] == 200


async def test_failed_orders_and_unreachable_endpoints(client: AsyncTopupClient, stack: Stack, sink: Any) -> None:
    endpoint = sink(200)
    failed = await client.create_recharge(**recharge(account_id="18600000001", notify_url=endpoint.url()))
    final = await wait_final(client, failed["order_id"])
    assert final["status"] in ("FAILED", "REFUNDED")
    received = await endpoint.wait_for(1)
    assert json.loads(received[0][2])["order"]["status"] in ("FAILED", "REFUNDED")
    # nobody listens there: every attempt fails with a connection error, and is logged
    dead = await client.create_recharge(**recharge(notify_url=dead_url()))
    [callback] = await _callbacks(stack, dead["order_id"], lambda c: c and c[0]["attempts"] >= 2)
    assert callback["attempt_log"][0]["http_status"] is None
    assert "Connect" in callback["attempt_log"][0]["error"]


async def test_no_callback_without_notify_url_or_when_switched_off(client: AsyncTopupClient, stack: Stack,
                                                                  new_channel: Any, sink: Any) -> None:
    order = await client.create_recharge(**recharge())
    await wait_final(client, order["order_id"])
    assert await _callbacks(stack, order["order_id"]) == []
    endpoint = sink(200)
    shop = await new_channel(f"quiet{time.time_ns() % 10**8}",
                             callbacks={"enabled": False, "url_prefixes": sink_prefixes()},
                             prices=[{"sku": "CREDIT_50", "price_fen": 5000}])
    quiet = await shop.create_recharge(**recharge(notify_url=endpoint.url()))
    await wait_final(shop, quiet["order_id"])
    await asyncio.sleep(0.5)
    assert endpoint.received == []
    assert secret_of(shop.created, "callback")  # type: ignore[attr-defined]


HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


async def test_a_2xx_html_page_is_not_an_acknowledgement_and_is_retried(client: AsyncTopupClient, stack: Stack,
                                                                        sink: Any) -> None:
    endpoint = sink((200, HTML), (200, b'{"code": "SUCCESS", "message": "\xe6\x88\x90\xe5\x8a\x9f"}'))
    order = await client.create_recharge(**recharge(notify_url=endpoint.url()))
    received = await endpoint.wait_for(2)
    assert len(received) == 2
    [callback] = await _callbacks(stack, order["order_id"], lambda c: c and c[0]["state"] == "delivered")
    assert (callback["state"], callback["attempts"]) == ("delivered", 2)
    assert [a["http_status"] for a in callback["attempt_log"]] == [200, 200]
    assert callback["attempt_log"][0]["response_excerpt"].startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("answer", [(200, b"success"), (204, b""), (200, b'{"code":"SUCCESS"}')])
async def test_an_acknowledgement_is_not_retried(client: AsyncTopupClient, stack: Stack, sink: Any,
                                                 answer: tuple[int, bytes]) -> None:
    endpoint = sink(answer)
    order = await client.create_recharge(**recharge(notify_url=endpoint.url()))
    [callback] = await _callbacks(stack, order["order_id"], lambda c: c and c[0]["state"] == "delivered")
    assert (callback["state"], callback["attempts"]) == ("delivered", 1)
    await asyncio.sleep(1.5)  # longer than the first two retries of the test schedule (0.3 s, 0.5 s)
    assert len(endpoint.received) == 1
