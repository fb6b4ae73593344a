"""Voucher cards (卡券) end to end: a batch through the admin API, its one export, redemptions by PIN."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.e2e.conftest import new_id, staff_headers, wait_final
from topup.events.v1 import envelope_pb2, vouchers_pb2
from topup_client import ApiError, AsyncTopupClient
from topup_devstack.stack import Stack
from topup_platform.events import VOUCHERS_TOPIC


async def _create_batch(stack: Stack, count: int, sku: str = "CREDIT_20", *, activate: bool = True,
                        expires: timedelta = timedelta(days=90)) -> tuple[str, list[dict[str, str]]]:
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=60) as http:
        reply = await http.post("/admin/v1/voucher-batches", headers=staff_headers("admin"), json={
            "sku": sku, "count": count, "expires_at": (datetime.now(UTC) + expires).isoformat()})
        assert reply.status_code == 201, reply.text
        assert reply.headers["content-type"].startswith("text/csv")
        assert reply.headers["cache-control"] == "no-store"
        batch_id = reply.headers["x-batch-id"]
        cards = list(csv.DictReader(io.StringIO(reply.text)))
        if activate:
            done = await http.post(f"/admin/v1/voucher-batches/{batch_id}/activate", headers=staff_headers("admin"),
                                   json={"reason": "sold to the distributor"})
            assert done.json() == {"changed": count, "skipped": 0}
    return batch_id, cards


async def _redeem(client: AsyncTopupClient, pin: str, account: str = "18612345678",
                  channel_order_id: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"channel_order_id": channel_order_id or new_id("v"), "account": {"type": "mobile", "id": account},
            "pin": pin, **extra}
    return await client.request("POST", "/v1/voucher-redemptions", body=body)  # type: ignore[no-any-return]


async def _card(stack: Stack, number: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        return (await http.get(f"/admin/v1/vouchers/{number}", headers=staff_headers("reviewer"))).json()  # type: ignore[no-any-return]


async def test_a_batch_is_exported_once_and_redeemed_by_pin(client: AsyncTopupClient, stack: Stack) -> None:
    batch_id, cards = await _create_batch(stack, 5)
    assert set(cards[0]) == {"card_number", "pin", "sku", "face_value_fen", "expires_at"}
    assert all(len(c["card_number"]) == 16 and len(c["pin"]) == 18 for c in cards)
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        batch = (await http.get(f"/admin/v1/voucher-batches/{batch_id}", headers=staff_headers("finance"))).json()
    assert (batch["count"], batch["states"], batch["face_value_fen"]) == (5, {"active": 5}, 2000)
    assert "pin" not in str(await _card(stack, cards[0]["card_number"])).lower().replace("pin_", "")

    order = await _redeem(client, cards[0]["pin"])
    assert client.last_response is not None and client.last_response.status_code == 201
    assert (order["payment"]["method"], order["payment"]["paid_fen"], order["face_value_fen"]) == ("voucher", 0, 2000)
    assert order["voucher_card_number"] == cards[0]["card_number"]
    assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    card = await _card(stack, cards[0]["card_number"])
    assert card["state"] == "redeemed" and card["order_id"] == order["order_id"]
    assert [h["transition"] for h in card["history"]] == ["create", "activate", "start_redemption",
                                                          "complete_redemption"]
    with pytest.raises(ApiError) as err:  # the card is spent
        await _redeem(client, cards[0]["pin"])
    assert (err.value.status, err.value.code) == (409, "VOUCHER_ALREADY_REDEEMED")


async def test_the_same_redemption_again_is_replayed(client: AsyncTopupClient, stack: Stack) -> None:
    _, cards = await _create_batch(stack, 1)
    first = await _redeem(client, cards[0]["pin"], channel_order_id="vr-same-" + new_id())
    again = await _redeem(client, cards[0]["pin"], channel_order_id=first["channel_order_id"])
    assert client.last_response is not None and client.last_response.status_code == 200
    assert again == first
    with pytest.raises(ApiError) as err:  # the same id with another body
        await _redeem(client, cards[0]["pin"], account="18612345679", channel_order_id=first["channel_order_id"])
    assert err.value.code == "IDEMPOTENCY_CONFLICT"


async def test_fifty_concurrent_redemptions_of_one_pin(client: AsyncTopupClient, stack: Stack) -> None:
    """From 50 accounts at once (at one account, at most 5 guesses are ever in flight: the PIN lockout counts each
    before its PIN is checked, test_risk.py)."""
    _, cards = await _create_batch(stack, 1)
    results = await asyncio.gather(*(_redeem(client, cards[0]["pin"], account=f"1861{secrets.randbelow(10**7):07d}")
                                     for _ in range(50)), return_exceptions=True)
    created = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, ApiError)]
    assert len(created) == 1 and len(refused) == 49
    assert {(e.status, e.code) for e in refused} == {(409, "VOUCHER_ALREADY_REDEEMED")}


async def test_refusals_have_their_own_codes(client: AsyncTopupClient, stack: Stack) -> None:
    batch_id, cards = await _create_batch(stack, 3, activate=False)
    cases = []
    for pin in ("000000000000000000", "123"):
        with pytest.raises(ApiError) as err:
            await _redeem(client, pin)
        cases.append(err.value.code)
    with pytest.raises(ApiError) as err:
        await _redeem(client, cards[0]["pin"])
    cases.append(err.value.code)
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        await http.post(f"/admin/v1/voucher-batches/{batch_id}/activate", headers=staff_headers("admin"), json={})
        frozen = await http.post(f"/admin/v1/voucher-batches/{batch_id}/freeze", headers=staff_headers("admin"),
                                 json={"card_first": cards[1]["card_number"], "reason": "reported stolen"})
        assert frozen.json() == {"changed": 1, "skipped": 0}
        bad_card = await http.post(f"/admin/v1/voucher-batches/{batch_id}/freeze", headers=staff_headers("admin"),
                                   json={"card_first": cards[1]["card_number"][:-1] + "0" if
                                         cards[1]["card_number"][-1] != "0" else cards[1]["card_number"][:-1] + "1"})
        assert bad_card.json()["code"] == "INVALID_REQUEST"  # a mistyped number fails its check digit
    with pytest.raises(ApiError) as err:
        await _redeem(client, cards[1]["pin"])
    cases.append(err.value.code)
    _, expiring = await _create_batch(stack, 1, expires=timedelta(seconds=1))
    await asyncio.sleep(1.5)
    with pytest.raises(ApiError) as err:
        await _redeem(client, expiring[0]["pin"])
    cases.append(err.value.code)
    assert cases == ["VOUCHER_INVALID", "VOUCHER_INVALID", "VOUCHER_NOT_ACTIVE", "VOUCHER_FROZEN", "VOUCHER_EXPIRED"]
    assert (await _redeem(client, cards[2]["pin"]))["status"] in {"PENDING", "PROCESSING", "SUCCEEDED"}


async def test_failed_attempts_are_published_for_the_lockout(client: AsyncTopupClient, stack: Stack) -> None:
    account = "18612349901"
    for _ in range(3):
        with pytest.raises(ApiError):
            await _redeem(client, "111111111111111111", account=account,
                          risk_context={"device_id": "dev-42", "ip": "10.1.2.3"})
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.ports["kafka_bootstrap"], auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(VOUCHERS_TOPIC, p) for p in consumer.partitions_for_topic(VOUCHERS_TOPIC)])
        seen: list[vouchers_pb2.VoucherRedemptionFailed] = []
        async with asyncio.timeout(15):
            while len(seen) < 3:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for r in records:
                        envelope = envelope_pb2.EventEnvelope.FromString(r.value)
                        event = vouchers_pb2.VoucherRedemptionFailed()
                        if envelope.payload.Unpack(event) and event.account.id == account:
                            seen.append(event)
    finally:
        await consumer.stop()
    assert {(e.reason_code, e.device_id, e.ip, e.channel_id) for e in seen} == {
        ("VOUCHER_INVALID", "dev-42", "10.1.2.3", "demo")}


async def test_a_redemption_that_fails_at_boss_gives_the_card_back(client: AsyncTopupClient, stack: Stack) -> None:
    _, cards = await _create_batch(stack, 1, sku="CREDIT_10")
    order = await _redeem(client, cards[0]["pin"], account="18600000001")  # BOSS: subscriber not found
    done = await wait_final(client, order["order_id"])
    assert (done["status"], done["status_reason_code"]) == ("FAILED", "BOSS_SUBSCRIBER_NOT_FOUND")
    card = await _card(stack, cards[0]["card_number"])
    assert card["state"] == "active"
    assert card["history"][-1]["transition"] == "return_card"
    again = await _redeem(client, cards[0]["pin"])  # the card works again, for another account
    assert (await wait_final(client, again["order_id"]))["status"] == "SUCCEEDED"


async def test_batches_are_for_admins_and_validated(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        body = {"sku": "CREDIT_20", "count": 10, "expires_at": "2030-01-01T00:00:00Z"}
        assert (await http.post("/admin/v1/voucher-batches", headers=staff_headers("reviewer"),
                                json=body)).status_code == 403
        for bad, code in [({**body, "count": 100_001}, "INVALID_REQUEST"), ({**body, "count": 0}, "INVALID_REQUEST"),
                          ({**body, "sku": "CREDIT_55"}, "SKU_UNKNOWN"),
                          ({**body, "expires_at": "2001-01-01T00:00:00Z"}, "INVALID_REQUEST")]:
            reply = await http.post("/admin/v1/voucher-batches", headers=staff_headers("admin"), json=bad)
            assert reply.json()["code"] == code, bad
        missing = await http.get("/admin/v1/voucher-batches/01a20e6d-ee0d-7314-bfe3-cbe181f6a9ab",
                                 headers=staff_headers("admin"))
        assert (missing.status_code, missing.json()["code"]) == (404, "VOUCHER_BATCH_NOT_FOUND")
