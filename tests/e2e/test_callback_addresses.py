"""Callbacks reach no internal address: a notify_url to PostgreSQL, to the gateway's own admin API, to the
metadata service or to a name for this machine is refused at intake with a code and creates nothing; prefixes
are compared as origins; a channel without prefixes cannot use notify_url; a callback job that points at an
internal address anyway is refused when connecting; a redirect is not followed. (The session's own sink is let
through only because the test-only allowlist names its exact address and port.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
import httpx

from tests.e2e.conftest import SinkServer, new_id, outcome, recharge, sinks, staff_headers
from topup_client import AsyncTopupClient
from topup_devstack.stack import Stack

PRICES = [{"sku": "CREDIT_50", "price_fen": 5000}]


async def _refused_and_nothing_created(client: AsyncTopupClient, notify_url: str) -> str:
    body = recharge(notify_url=notify_url)
    status, code = await outcome(client.create_recharge(**body))
    assert status == 422, (notify_url, status, code)
    assert await outcome(client.find_recharge(body["channel_order_id"])) == (404, "ORDER_NOT_FOUND"), notify_url
    return code


async def _callbacks(stack: Stack, order_id: str, until: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        while True:
            reply = await http.get(f"/admin/v1/orders/{order_id}/callbacks", headers=staff_headers("reviewer"))
            assert reply.status_code == 200, reply.text
            callbacks: list[dict[str, Any]] = reply.json()["callbacks"]
            if until(callbacks) or time.monotonic() > deadline:
                return callbacks
            await asyncio.sleep(0.1)


async def test_internal_addresses_are_refused_at_intake_and_create_nothing(client: AsyncTopupClient,
                                                                           stack: Stack) -> None:
    gateway_port = httpx.URL(stack.gateway).port
    forbidden = [
        "http://127.0.0.1:5432/",  # PostgreSQL
        f"http://127.0.0.1:{gateway_port}/admin/v1/channels",  # the gateway's own admin API
        f"http://[::ffff:127.0.0.1]:{gateway_port}/admin/v1/channels",
        "http://169.254.169.254/latest/meta-data/",  # the cloud's metadata service
        "http://0.0.0.0:5432/", "http://[::]:5432/", "http://[::1]:5432/", "http://10.0.0.1/", "http://100.64.0.1/",
        "http://localhost:5432/",  # a name for this machine
        f"http://127.0.0.1:{sinks().server.port + 1}/",  # next to the allowlisted sink: only its exact port passes
    ]
    for url in forbidden:
        assert await _refused_and_nothing_created(client, url) == "NOTIFY_URL_FORBIDDEN_ADDRESS", url
    invalid = [
        "http://2130706433:5432/", "http://0x7f.1:5432/", "http://127.1:5432/",  # loopback in other spellings
        f"http://user@127.0.0.1:{sinks().server.port}/", f"http://127.0.0.1:{sinks().server.port}#@shop.example/",
        "http://127.0.0.1.:5432/",
    ]
    for url in invalid:
        assert await _refused_and_nothing_created(client, url) == "NOTIFY_URL_INVALID", url
    # a voucher redemption too, before its PIN is even looked at
    reply = await outcome(client.request("POST", "/v1/voucher-redemptions", body={
        "channel_order_id": new_id("v"), "account": {"type": "mobile", "id": "18612345678"},
        "pin": "123456789012345678", "notify_url": "http://127.0.0.1:5432/"}))
    assert reply == (422, "NOTIFY_URL_FORBIDDEN_ADDRESS")


async def test_prefixes_are_origins_and_a_channel_without_prefixes_has_no_notify_url(stack: Stack,
                                                                                    new_channel: Any) -> None:
    # a name that does not resolve here: accepted at registration (checked again at intake and when connecting)
    fenced = await new_channel(f"fenced{time.time_ns() % 10**8}", prices=PRICES,
                               callbacks={"enabled": True, "url_prefixes": ["http://host.example:1",
                                                                            "https://shop.example/cb"]})
    for url, code in [
        ("http://host.example:18555/", "NOTIFY_URL_NOT_ALLOWED"),  # startswith("http://host.example:1") would pass
        ("http://host.example:1@127.0.0.1:18555/", "NOTIFY_URL_INVALID"),
        ("https://shop.example/cbx", "NOTIFY_URL_NOT_ALLOWED"),
        ("https://shop.example.evil.example/cb", "NOTIFY_URL_NOT_ALLOWED"),
        ("http://shop.example/cb/n", "NOTIFY_URL_NOT_ALLOWED"),  # another scheme
    ]:
        assert await _refused_and_nothing_created(fenced, url) == code, url
    # under a prefix: the notify_url passes (and the order goes on to its next check: here the price)
    for url in ("http://host.example:1/notify", "https://shop.example/cb/n?x=1", "https://shop.example:443/cb"):
        assert await outcome(fenced.create_recharge(**recharge(paid_fen=4999, notify_url=url))) == (
            422, "PRICE_MISMATCH"), url

    bare = await new_channel(f"bare{time.time_ns() % 10**8}", prices=PRICES)
    assert await _refused_and_nothing_created(bare, "https://shop.example/n") == "NOTIFY_URL_NO_PREFIXES"
    assert (await bare.create_recharge(**recharge()))["status"], "without a notify_url it may order"


async def test_prefixes_to_internal_addresses_are_refused_at_registration(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway, headers=staff_headers("admin")) as http:
        for prefix in ("http://127.0.0.1:5432/", "http://localhost:8080/", "http://169.254.169.254/",
                       "http://[fd00::1]/", "http://user@shop.example/", "http://0x7f.1/", "http://shop.example/?q"):
            cid = f"refused{time.time_ns() % 10**8}"
            reply = await http.post("/admin/v1/channels", json={
                "channel_id": cid, "name": cid, "callbacks": {"enabled": True, "url_prefixes": [prefix]}})
            assert (reply.status_code, reply.json()["code"]) == (422, "CALLBACK_PREFIX_INVALID"), (prefix, reply.text)
            assert (await http.get(f"/admin/v1/channels/{cid}")).status_code == 404, "nothing created"
        before = (await http.get("/admin/v1/channels/demo")).json()["callbacks"]
        patched = await http.patch("/admin/v1/channels/demo", json={
            "callbacks": {"enabled": True, "url_prefixes": ["http://127.0.0.1:5432/"]}})
        assert (patched.status_code, patched.json()["code"]) == (422, "CALLBACK_PREFIX_INVALID")
        assert (await http.get("/admin/v1/channels/demo")).json()["callbacks"] == before, "nothing changed"


async def test_a_callback_to_an_internal_address_is_refused_when_connecting(client: AsyncTopupClient,
                                                                            stack: Stack) -> None:
    """A job whose URL reaches an internal address anyway (recorded before these rules, or its name resolves
    there now): the callback client itself refuses to connect, and the attempt says why."""
    internal = SinkServer()  # a local service the allowlist does not name
    try:
        target = internal.sink((200,))
        order = await client.create_recharge(**recharge())
        conn = await asyncpg.connect(stack.ports["database_url"])
        try:
            await conn.execute(
                """INSERT INTO gateway.callbacks (callback_id, order_id, channel_id, status, notify_url, body, event_id)
                   VALUES ($1, $2, 'demo', 'SUCCEEDED', $3, '{}'::bytea, $4)""",
                uuid.uuid4(), order["order_id"], target.url(), uuid.uuid4())
        finally:
            await conn.close()
        [callback] = await _callbacks(stack, order["order_id"],
                                      lambda c: any(j["notify_url"] == target.url() and j["attempts"] for j in c))
        assert callback["attempt_log"][0]["http_status"] is None
        assert "callback address refused" in callback["attempt_log"][0]["error"]
        assert "loopback" in callback["attempt_log"][0]["error"]
        await asyncio.sleep(0.5)
        assert target.received == [], "nothing reached the internal address"
    finally:
        internal.close()


async def test_a_redirect_to_an_internal_address_is_not_followed(client: AsyncTopupClient, stack: Stack,
                                                                sink: Any) -> None:
    internal = SinkServer()
    try:
        target = internal.sink((200,))
        endpoint = sink(302, location=target.url("/admin/v1/channels"))
        order = await client.create_recharge(**recharge(notify_url=endpoint.url()))
        [callback] = await _callbacks(stack, order["order_id"], lambda c: c and c[0]["attempts"] >= 2)
        assert [a["http_status"] for a in callback["attempt_log"][:2]] == [302, 302]
        assert callback["state"] != "delivered"
        assert len(endpoint.received) >= 2 and target.received == [], "the redirect was never followed"
    finally:
        internal.close()

