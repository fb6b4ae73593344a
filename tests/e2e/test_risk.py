"""The risk engine through the gateway: the admin API changes rules and lists at run time, and the channel
API applies the decisions (CHALLENGE -> 403, REVIEW -> held UNDER_REVIEW, DENY -> REJECTED, nothing
fulfilled; a voucher PIN lockout -> 429)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import new_id, recharge, staff_headers, wait_final, wait_status
from topup_client import ApiError, AsyncTopupClient
from topup_client.client import recharge_body
from topup_devstack.stack import Stack


def number() -> str:
    return f"186{uuid.uuid4().int % 10**8:08d}"


async def from_device(client: AsyncTopupClient, device: str) -> dict[str, Any]:
    """A recharge with the subscriber's device id in the risk context."""
    body = {**recharge_body(**recharge(number())), "risk_context": {"device_id": device}}
    return await client.request("POST", "/v1/recharges", body=body)  # type: ignore[no-any-return]


@pytest.fixture
async def admin(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{stack.gateway}/admin/v1/risk", headers=staff_headers("admin"),
                                 timeout=30) as http:
        yield http


async def _balance(stack: Stack, account: str) -> int:
    async with httpx.AsyncClient() as http:
        return int((await http.get(f"{stack.boss}/boss/v1/subscribers/mobile/{account}")).json()["balance_fen"])


async def test_reviewers_read_admins_change(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=f"{stack.gateway}/admin/v1/risk") as http:
        listed = await http.get("/rulesets", headers=staff_headers("reviewer"))
        assert listed.status_code == 200 and listed.json()["state"]["live_version"] >= 1
        live = await http.get(f"/rulesets/{listed.json()['state']['live_version']}", headers=staff_headers("reviewer"))
        assert live.json()["status"] == "LIVE" and live.json()["ruleset"]["rules"]
        refused = await http.post("/rulesets", headers=staff_headers("reviewer"), json={"ruleset": {}})
        assert (refused.status_code, refused.json()["code"]) == (403, "ADMIN_FORBIDDEN")
        anonymous = await http.put("/lists/block/account/18612345678", json={"reason": "x"})
        assert (anonymous.status_code, anonymous.json()["code"]) == (401, "ADMIN_AUTH_REQUIRED")


async def test_an_invalid_rule_set_is_refused_with_its_problems_and_nothing_is_stored(admin: httpx.AsyncClient) -> None:
    before = (await admin.get("/rulesets")).json()["rulesets"]
    live = (await admin.get(f"/rulesets/{before[0]['version']}")).json()["ruleset"]
    live["rules"].append({"id": "typo", "description": "x", "when": "amont_fen > 1", "outcome": "DENY",
                          "reason_code": "RISK_X"})
    reply = await admin.post("/rulesets", json={"ruleset": live, "note": "broken"})
    assert (reply.status_code, reply.json()["code"]) == (422, "RISK_RULESET_INVALID")
    assert "undeclared reference to 'amont_fen'" in reply.json()["details"]["rules.typo"]
    assert (await admin.get("/rulesets")).json()["rulesets"] == before
    bad = await admin.post("/rulesets/999999/deploy", json={"mode": "live"})
    assert (bad.status_code, bad.json()["code"]) == (404, "RISK_RULESET_NOT_FOUND")


async def test_a_blocked_account_is_rejected_with_nothing_fulfilled(client: AsyncTopupClient, stack: Stack,
                                                                    admin: httpx.AsyncClient) -> None:
    account = number()
    put = await admin.put(f"/lists/block/account/{account}", json={"reason": "fraud report #123", "ttl_seconds": 600})
    assert put.status_code == 200 and put.json()["created_by"] == "alice" and put.json()["expires_at"]
    order = await client.create_recharge(**recharge(account))
    assert (order["status"], order["status_reason_code"]) == ("REJECTED", "RISK_BLOCKLISTED")
    refunded = await wait_status(client, order["order_id"], "REFUNDED")  # the channel had charged: money back
    assert refunded["status_reason_code"] == "RISK_BLOCKLISTED"
    assert await _balance(stack, account) == 0  # nothing credited
    assert (await admin.delete(f"/lists/block/account/{account}")).json() == {"deleted": True}
    again = await client.create_recharge(**recharge(account))
    assert (await wait_final(client, again["order_id"]))["status"] == "SUCCEEDED"
    entries = (await admin.get("/lists/block", params={"kind": "account", "include_expired": "true"})).json()
    assert account not in {e["value"] for e in entries["entries"]}


async def test_a_large_amount_waits_for_a_person_unless_the_account_is_trusted(client: AsyncTopupClient,
                                                                              stack: Stack,
                                                                              admin: httpx.AsyncClient) -> None:
    account = number()
    held = await client.create_recharge(**recharge(account, "CREDIT_500", 50000))
    assert (held["status"], held["status_reason_code"]) == ("UNDER_REVIEW", "RISK_REVIEW")
    await asyncio.sleep(0.5)
    assert (await client.get_recharge(held["order_id"]))["status"] == "UNDER_REVIEW"
    assert await _balance(stack, account) == 0  # held, not fulfilled
    await admin.put(f"/lists/allow/account/{account}", json={"reason": "verified enterprise account"})
    trusted = await client.create_recharge(**recharge(account, "CREDIT_500", 50000))
    assert (await wait_final(client, trusted["order_id"]))["status"] == "SUCCEEDED"


async def test_too_many_recharges_of_one_number_must_step_up(client: AsyncTopupClient) -> None:
    account = number()
    for _ in range(20):
        await client.create_recharge(**recharge(account, "CREDIT_10", 1000))
    with pytest.raises(ApiError) as err:
        await client.create_recharge(**recharge(account, "CREDIT_10", 1000))
    assert (err.value.status, err.value.code) == (403, "RISK_CHALLENGE_REQUIRED")
    assert err.value.body["details"]["reason_code"] == "RISK_VELOCITY"


async def test_wrong_voucher_pins_lock_the_account_out(client: AsyncTopupClient, admin: httpx.AsyncClient) -> None:
    account = number()

    async def redeem(pin: str) -> ApiError:
        with pytest.raises(ApiError) as err:
            await client.request("POST", "/v1/voucher-redemptions", body={
                "channel_order_id": new_id("lock"), "account": {"type": "mobile", "id": account}, "pin": pin})
        return err.value

    for i in range(5):
        assert (await redeem(f"{i:018d}")).code == "VOUCHER_INVALID"
    async with asyncio.timeout(15):  # the failures reach the risk engine as events
        while (error := await redeem("999999999999999999")).code != "VOUCHER_LOCKED_OUT":
            await asyncio.sleep(0.2)
    assert error.status == 429
    lockout = (await admin.get(f"/lockouts/account/{account}")).json()
    assert lockout["locked"] and lockout["recent_failures"] >= 5
    cleared = await admin.post(f"/lockouts/account/{account}/clear", json={"reason": "ID card checked in the shop"})
    assert cleared.json()["locked"] is False
    assert (await redeem("888888888888888888")).code == "VOUCHER_INVALID"  # may try again


async def _deploy(admin: httpx.AsyncClient, version: int, mode: str) -> dict[str, Any]:
    reply = await admin.post(f"/rulesets/{version}/deploy", json={"mode": mode, "note": "e2e"})
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def test_a_new_version_runs_in_shadow_then_goes_live_without_a_restart(client: AsyncTopupClient,
                                                                             admin: httpx.AsyncClient) -> None:
    state = (await admin.get("/state")).json()
    live = state["live_version"]
    doc = (await admin.get(f"/rulesets/{live}")).json()["ruleset"]
    farm = f"emulator-{uuid.uuid4().hex[:8]}-"
    doc["rules"].append({"id": "known_emulator", "description": "A device of a known emulator farm",
                         "when": f"device.startsWith('{farm}')", "outcome": "DENY", "score": 100,
                         "reason_code": "RISK_EMULATOR"})
    created = await admin.post("/rulesets", json={"ruleset": doc, "note": "emulator farm seen on 11 Nov"})
    assert created.status_code == 201 and created.json()["status"] == "DRAFT"
    version = created.json()["version"]
    try:
        await _deploy(admin, version, "shadow")
        async with asyncio.timeout(10):
            while (await admin.get("/state")).json()["this_replica"]["shadow_version"] != version:
                await asyncio.sleep(0.1)
        shadowed = await from_device(client, farm + new_id())
        assert shadowed["status"] != "REJECTED"  # decided and recorded, not enforced
        report = (await admin.get(f"/rulesets/{version}/shadow-report")).json()
        assert report["decisions"] >= 1 and report["live_versions"] == [f"v{live}"]
        assert any(d["shadow"] == "DENY" and "known_emulator" in d["shadow_rules"] for d in report["differences"])

        after = await _deploy(admin, version, "live")
        assert (after["live_version"], after["shadow_version"]) == (version, None)
        async with asyncio.timeout(10):  # every replica applies it within seconds
            while (order := await from_device(client, farm + new_id()))["status"] != "REJECTED":
                await asyncio.sleep(0.2)
        assert order["status_reason_code"] == "RISK_EMULATOR"
        listed = {r["version"]: r["status"] for r in (await admin.get("/rulesets")).json()["rulesets"]}
        assert (listed[version], listed[live]) == ("LIVE", "RETIRED")
    finally:
        await _deploy(admin, live, "live")  # roll back: the other tests expect the shipped rules
        async with asyncio.timeout(10):
            while (await admin.get("/state")).json()["this_replica"]["live_version"] != live:
                await asyncio.sleep(0.1)


async def test_only_an_admin_lifts_a_voucher_lockout(stack: Stack) -> None:
    """The README says admin: a reviewer reads lockouts, and is refused lifting one."""
    account = number()
    async with httpx.AsyncClient(base_url=f"{stack.gateway}/admin/v1/risk", timeout=30) as http:
        read = await http.get(f"/lockouts/account/{account}", headers=staff_headers("reviewer"))
        assert read.status_code == 200, read.text
        lift = await http.post(f"/lockouts/account/{account}/clear", headers=staff_headers("reviewer"),
                               json={"reason": "the subscriber called"})
        assert (lift.status_code, lift.json()["code"]) == (403, "ADMIN_FORBIDDEN"), lift.text
        assert (await http.post(f"/lockouts/account/{account}/clear", headers=staff_headers("admin"),
                                json={"reason": "ID card checked in the shop"})).status_code == 200


async def test_fifty_parallel_wrong_pins_are_not_all_tried(client: AsyncTopupClient) -> None:
    """Each guess is counted before its PIN is checked: of 50 wrong PINs sent at once for one account, only as
    many as the lockout allows (5) are answered VOUCHER_INVALID; the others are refused unchecked."""
    account = number()

    async def redeem(i: int) -> str:
        try:
            await client.request("POST", "/v1/voucher-redemptions", body={
                "channel_order_id": new_id(f"par{i}"), "account": {"type": "mobile", "id": account},
                "pin": f"{700000000000000000 + i:018d}"})
        except ApiError as err:
            return f"{err.status} {err.code}"
        return "created"

    answers = await asyncio.gather(*(redeem(i) for i in range(50)))
    assert answers.count("422 VOUCHER_INVALID") <= 5, answers
    assert answers.count("429 VOUCHER_LOCKED_OUT") >= 45, answers
    assert set(answers) <= {"422 VOUCHER_INVALID", "429 VOUCHER_LOCKED_OUT"}, answers
