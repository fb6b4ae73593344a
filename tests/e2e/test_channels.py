"""The channel registry through the admin API: credentials (HMAC and RSA), rotation with an overlap, secrets
that are never shown twice nor stored or logged in clear, quotas per channel, and a flood from one channel
that leaves the others alone."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.conftest import create_channel, outcome, recharge, secret_of, staff_headers
from topup_client import ApiError, AsyncTopupClient
from topup_devstack.stack import Stack

PRICES = [{"sku": "CREDIT_10", "price_fen": 1000}, {"sku": "CREDIT_50", "price_fen": 4950}]


def _cid(prefix: str) -> str:
    return f"{prefix}{time.time_ns() % 10**9}"


async def test_register_a_channel_and_its_secrets_are_shown_once(stack: Stack) -> None:
    cid = _cid("alipay")
    created = await create_channel(stack.gateway, cid, permissions=["balance"], prices=PRICES,
                                   quota={"rate_per_second": 20, "burst": 40},
                                   callbacks={"enabled": True, "url_prefixes": ["https://shop.example/"]})
    assert {s["kind"] for s in created["secrets"]} == {"hmac", "callback"}
    assert all(len(s["secret"]) >= 40 for s in created["secrets"])
    assert created["quota"] == {"rate_per_second": 20, "burst": 40}
    assert created["prices"] == PRICES
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        one = await http.get(f"/admin/v1/channels/{cid}", headers=staff_headers("finance"))
        listed = await http.get("/admin/v1/channels", headers=staff_headers("reviewer"))
        again = await http.post("/admin/v1/channels", headers=staff_headers("admin"),
                                json={"channel_id": cid, "name": "twice"})
        not_admin = await http.post("/admin/v1/channels", headers=staff_headers("reviewer"),
                                    json={"channel_id": _cid("x"), "name": "x"})
        bad = await http.post("/admin/v1/channels", headers=staff_headers("admin"),
                              json={"channel_id": "Bad Id", "name": "x"})
        missing = await http.get("/admin/v1/channels/nobody-here", headers=staff_headers("admin"))
    assert one.status_code == 200 and one.json()["prices"] == PRICES
    for secret in (s["secret"] for s in created["secrets"]):
        assert secret not in one.text and secret not in listed.text
    assert [k["status"] for k in one.json()["keys"]] == ["active", "active"]
    assert (again.status_code, again.json()["code"]) == (409, "CHANNEL_EXISTS")
    assert (not_admin.status_code, not_admin.json()["code"]) == (403, "ADMIN_FORBIDDEN")
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_REQUEST")
    assert (missing.status_code, missing.json()["code"]) == (404, "CHANNEL_NOT_FOUND")

    async with AsyncTopupClient(stack.gateway, cid, secret_of(created, "hmac"), retries=0) as shop:
        order = await shop.create_recharge(**recharge(sku="CREDIT_50", paid_fen=4950))
        assert order["status"] in ("PENDING", "PROCESSING", "SUCCEEDED")
        # notify_url outside the registered prefixes, or to an internal address: refused, nothing created
        assert await outcome(shop.create_recharge(**recharge(notify_url="https://evil.example/steal"))) == (
            422, "NOTIFY_URL_NOT_ALLOWED")
        assert await outcome(shop.create_recharge(**recharge(notify_url="http://10.0.0.1/steal"))) == (
            422, "NOTIFY_URL_FORBIDDEN_ADDRESS")
        assert await outcome(shop.create_recharge(**recharge(notify_url="https://shop.example/n"))) == (422,
                                                                                                       "PRICE_MISMATCH")

    # at rest: sealed (AES-GCM), never the secret itself; in the logs: never
    conn = await asyncpg.connect(stack.ports["database_url"])
    try:
        rows = await conn.fetch("SELECT secret_ciphertext FROM gateway.channel_keys WHERE channel_id = $1", cid)
    finally:
        await conn.close()
    for s in created["secrets"]:
        assert all(s["secret"].encode() not in bytes(r["secret_ciphertext"]) for r in rows)
        assert s["secret"] not in stack.log_path.read_text(errors="replace")


async def test_disable_and_patch(stack: Stack, new_channel: Any) -> None:
    shop = await new_channel(_cid("jd"), prices=PRICES)
    assert (await shop.products("18612345678"))["products"]
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        reply = await http.patch(f"/admin/v1/channels/{shop.channel_id}", headers=staff_headers("admin"),
                                 json={"enabled": False, "quota": {"rate_per_second": 7, "burst": 9}})
        assert reply.status_code == 200, reply.text
        assert (reply.json()["enabled"], reply.json()["quota"]["burst"]) == (False, 9)
        bad = await http.patch(f"/admin/v1/channels/{shop.channel_id}", headers=staff_headers("admin"),
                               json={"quota": {"rate_per_second": 0, "burst": 1}})
        assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_REQUEST")
    assert await outcome(shop.products("18612345678")) == (403, "CHANNEL_DISABLED")


async def test_hmac_key_rotation_with_an_overlap(stack: Stack, new_channel: Any) -> None:
    shop = await new_channel(_cid("wx"), prices=PRICES)
    old_key = next(s["key_id"] for s in shop.created["secrets"] if s["kind"] == "hmac")
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        reply = await http.post(f"/admin/v1/channels/{shop.channel_id}/keys", headers=staff_headers("admin"),
                                json={"kind": "hmac", "retire_others_after_seconds": 3})
        assert reply.status_code == 201, reply.text
        new = reply.json()
    async with AsyncTopupClient(stack.gateway, shop.channel_id, new["secret"], retries=0) as rotated:
        # the overlap: both keys work
        assert (await shop.products("18612345678"))["products"]
        assert (await rotated.products("18612345678"))["products"]
        await asyncio.sleep(3.5)
        # the old key has expired by itself; the new one goes on
        assert await outcome(shop.products("18612345678")) == (401, "AUTH_SIGNATURE_INVALID")
        assert (await rotated.products("18612345678"))["products"]
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        view = (await http.get(f"/admin/v1/channels/{shop.channel_id}", headers=staff_headers("admin"))).json()
        status = {k["key_id"]: k["status"] for k in view["keys"]}
        assert (status[old_key], status[new["key_id"]]) == ("expired", "active")
        last = await http.post(f"/admin/v1/channels/{shop.channel_id}/keys/{new['key_id']}/retire",
                               headers=staff_headers("admin"))
        assert (last.status_code, last.json()["code"]) == (409, "KEY_LAST_ACTIVE")
        unknown = await http.post(f"/admin/v1/channels/{shop.channel_id}/keys/nope/retire",
                                  headers=staff_headers("admin"))
        assert (unknown.status_code, unknown.json()["code"]) == (404, "KEY_NOT_FOUND")


def _rsa_key() -> tuple[rsa.RSAPrivateKey, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, pem


async def test_rsa_signed_requests(stack: Stack) -> None:
    private, pem = _rsa_key()
    cid = _cid("taobao")
    created = await create_channel(stack.gateway, cid, hmac=False, rsa_public_key_pem=pem, prices=PRICES)
    assert {s["kind"] for s in created["secrets"]} == {"callback"}  # no request secret: the channel holds its key
    rsa_key = next(k for k in created["keys"] if k["kind"] == "rsa")
    assert len(rsa_key["fingerprint"]) == 64
    async with AsyncTopupClient(stack.gateway, cid, private_key=private, retries=0) as shop:
        order = await shop.create_recharge(**recharge(sku="CREDIT_10", paid_fen=1000))
        assert (await shop.get_recharge(order["order_id"]))["order_id"] == order["order_id"]
    other, other_pem = _rsa_key()
    async with AsyncTopupClient(stack.gateway, cid, private_key=other, retries=0) as impostor:
        assert await outcome(impostor.products("18612345678")) == (401, "AUTH_SIGNATURE_INVALID")
    async with AsyncTopupClient(stack.gateway, cid, "a-guessed-hmac-secret", retries=0) as guesser:
        assert await outcome(guesser.products("18612345678")) == (401, "AUTH_SIGNATURE_INVALID")
    # rotation: a second public key, then the first retired
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        added = await http.post(f"/admin/v1/channels/{cid}/keys", headers=staff_headers("admin"),
                                json={"kind": "rsa", "public_key_pem": other_pem})
        assert added.status_code == 201 and added.json()["secret"] is None
        retired = await http.post(f"/admin/v1/channels/{cid}/keys/{rsa_key['key_id']}/retire",
                                  headers=staff_headers("admin"))
        assert retired.json()["status"] == "retired"
        small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        for junk in (small, "not a key"):
            bad = await http.post(f"/admin/v1/channels/{cid}/keys", headers=staff_headers("admin"),
                                  json={"kind": "rsa", "public_key_pem": junk})
            assert (bad.status_code, bad.json()["code"]) == (400, "KEY_INVALID")
    async with AsyncTopupClient(stack.gateway, cid, private_key=other, retries=0) as rotated:
        assert (await rotated.products("18612345678"))["products"]
    async with AsyncTopupClient(stack.gateway, cid, private_key=private, retries=0) as old:
        assert await outcome(old.products("18612345678")) == (401, "AUTH_SIGNATURE_INVALID")


async def test_quota_per_channel(stack: Stack, new_channel: Any, client: AsyncTopupClient) -> None:
    shop = await new_channel(_cid("up"), prices=PRICES, quota={"rate_per_second": 2, "burst": 4})
    results = await asyncio.gather(*(outcome(shop.products("18612345678")) for _ in range(12)))
    assert results.count((200, "OK")) in (4, 5)  # the burst (and maybe one token refilled meanwhile)
    assert results.count((429, "RATE_LIMITED")) == 12 - results.count((200, "OK"))
    with pytest.raises(ApiError) as refused:
        await shop.products("18612345678")
    assert refused.value.status == 429 and refused.value.retry_after == 1
    assert shop.last_response is not None and shop.last_response.headers["Retry-After"] == "1"
    # the demo channel's own quota is untouched
    assert (await client.products("18612345678"))["products"]
    await asyncio.sleep(1.1)  # two tokens come back per second
    assert (await shop.products("18612345678"))["products"]


async def test_a_flood_from_one_channel_leaves_the_others_alone(stack: Stack, new_channel: Any) -> None:
    flood = await new_channel(_cid("flood"), prices=PRICES, quota={"rate_per_second": 20, "burst": 20})
    calm = await new_channel(_cid("calm"), prices=PRICES, quota={"rate_per_second": 20, "burst": 20})
    stop = asyncio.Event()
    flood_results: list[tuple[int, str]] = []

    async def flooding() -> None:
        while not stop.is_set():
            flood_results.extend(await asyncio.gather(*(outcome(flood.products("18612345678")) for _ in range(40))))

    task = asyncio.create_task(flooding())
    await asyncio.sleep(0.3)
    calm_results = []
    for _ in range(3):
        calm_results += await asyncio.gather(*(outcome(calm.create_recharge(**recharge(sku="CREDIT_10",
                                                                                      paid_fen=1000)))
                                               for _ in range(4)))
        await asyncio.sleep(0.2)
    stop.set()
    await task
    assert calm_results == [(200, "OK")] * 12, calm_results
    assert flood_results.count((429, "RATE_LIMITED")) > len(flood_results) / 2
    assert set(flood_results) <= {(200, "OK"), (429, "RATE_LIMITED")}
