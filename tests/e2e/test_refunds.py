"""Refunds to the original payment path (F11) on the running platform, against the payment-provider simulator
with its faults: refusals, outages, lost replies, lost notices, forged notices; and the working-day calendar
their deadline runs on."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.conftest import Desk, provider_ledger, recharge, wait_status
from topup_client import AsyncTopupClient
from topup_devstack.stack import Stack

NOT_FOUND_AT_BOSS = "18600000001"
BEIJING = timezone(timedelta(hours=8))


async def _failed_order(client: AsyncTopupClient, method: str = "alipay", txn_prefix: str = "PAY",
                        paid: int = 1000) -> dict[str, Any]:
    body = {**recharge(NOT_FOUND_AT_BOSS, f"CREDIT_{paid // 100}", paid), "payment_method": method,
            "transaction_id": f"{txn_prefix}-{time.time_ns()}"}
    return await client.create_recharge(**body)  # type: ignore[no-any-return]


@pytest.fixture
async def faults(stack: Stack) -> AsyncIterator[Any]:
    """Set the provider simulator's faults for the test (each test names its own provider); cleared after."""
    async with httpx.AsyncClient(base_url=stack.payments) as http:
        async def put(**faults: Any) -> None:
            (await http.put("/sim/faults", json=faults)).raise_for_status()

        yield put
        await put()


def _whats(refund: dict[str, Any]) -> list[str]:
    return [e["what"] for e in refund["events"]]


async def test_a_refund_settles_by_the_providers_notice(client: AsyncTopupClient, desk: Desk) -> None:
    order = await _failed_order(client)
    assert (await wait_status(client, order["order_id"], "REFUNDED"))["status_reason_code"] == \
        "BOSS_SUBSCRIBER_NOT_FOUND"
    refund = await desk.refund_of(order["order_id"], until="SETTLED")
    assert (refund["amount_fen"], refund["payment"]["transaction_id"]) == (1000, order["payment"]["transaction_id"])
    assert _whats(refund) == ["requested", "provider_accepted", "settled_by_notice"]
    assert refund["provider_refund_no"] and not refund["deadline_breached"]
    assert refund["failure_confirmed_at"] < refund["deadline_at"]


async def test_lost_notices_are_made_up_for_by_status_queries(client: AsyncTopupClient, desk: Desk,
                                                              faults: Any) -> None:
    await faults(notice_loss_rate=1.0, providers=["taobao"])
    order = await _failed_order(client, "taobao")
    await wait_status(client, order["order_id"], "REFUNDED")
    assert _whats(await desk.refund_of(order["order_id"])) == ["requested", "provider_accepted", "settled_by_query"]


async def test_an_outage_is_retried_with_the_same_refund_id(client: AsyncTopupClient, desk: Desk,
                                                            stack: Stack) -> None:
    order = await _failed_order(client, "unicom_pay", "SANDBOX-FLAKY")  # 503 twice, then accepted
    await wait_status(client, order["order_id"], "REFUNDED")
    refund = await desk.refund_of(order["order_id"])
    assert _whats(refund)[:3] == ["requested", "provider_unavailable", "provider_unavailable"]
    assert refund["attempts"] == 3
    ledger = await provider_ledger(stack, "unicom_pay", order["payment"]["transaction_id"])
    assert [r["refund_id"] for r in ledger["refunds"]] == [refund["refund_id"]]


async def test_lost_replies_never_pay_twice(client: AsyncTopupClient, desk: Desk, stack: Stack,
                                            faults: Any) -> None:
    # The provider takes every submission but its replies (and notices) never arrive: we send again, under the
    # same refund id, until we would give up, then ask, and find it paid (Hyperswitch #3751: a refund id lost
    # after a timeout). With notices on, the notice usually settles it while the first reply is still lost.
    await faults(lost_reply_rate=1.0, notice_loss_rate=1.0, providers=["unionpay"])
    order = await _failed_order(client, "unionpay")
    await wait_status(client, order["order_id"], "REFUNDED", timeout=45)
    refund = await desk.refund_of(order["order_id"])
    assert _whats(refund) == ["requested", *["provider_unavailable"] * 3, "settled_on_submission"]
    ledger = await provider_ledger(stack, "unionpay", order["payment"]["transaction_id"])
    assert [(r["refund_id"], r["status"]) for r in ledger["refunds"]] == [(refund["refund_id"], "SETTLED")]
    assert ledger["refunded_fen"] == 1000


async def test_a_refused_refund_goes_to_finance_who_pays_it_back_by_hand(client: AsyncTopupClient,
                                                                        desk: Desk) -> None:
    order = await _failed_order(client, "jd", "SANDBOX-TOO-OLD")
    refund = await desk.refund_of(order["order_id"], until="FAILED")
    assert refund["last_error"].startswith("TRANSACTION_TOO_OLD")
    assert (await client.get_recharge(order["order_id"]))["status"] == "FAILED"  # the money is not back yet
    case = await desk.case_of(order["order_id"], kind="REFUND_FAILED")
    assert (case["reason_code"], case["refund_id"], case["allowed_actions"]) == (
        "TRANSACTION_TOO_OLD", refund["refund_id"], ["record_manual_refund"])

    reviewer = await desk.decide(case["case_id"], "record_manual_refund", reference="BT-1")
    assert (reviewer.status_code, reviewer.json()["code"]) == (403, "ADMIN_FORBIDDEN")
    unreferenced = await desk.decide(case["case_id"], "record_manual_refund", staff="fay", role="finance")
    assert (unreferenced.status_code, unreferenced.json()["code"]) == (400, "INVALID_REQUEST")
    paid = await desk.decide(case["case_id"], "record_manual_refund", staff="fay", role="finance",
                             reason="bank transfer to the payer", reference="BT-20261124-0042")
    assert paid.status_code == 200, paid.text
    assert paid.json()["actions"][-1]["after"]["refund_status"] == "SETTLED"
    done = await wait_status(client, order["order_id"], "REFUNDED")
    assert done["status_reason_code"] == "BOSS_SUBSCRIBER_NOT_FOUND"
    settled = await desk.refund_of(order["order_id"])
    assert (settled["status"], _whats(settled)[-1]) == ("SETTLED", "paid_back_by_finance")


async def test_a_provider_outage_goes_to_finance_who_retries(client: AsyncTopupClient, desk: Desk, faults: Any,
                                                            stack: Stack) -> None:
    await faults(unavailable_rate=1.0, query_unavailable_rate=1.0, providers=["wechat"])
    order = await _failed_order(client, "wechat")
    refund = await desk.refund_of(order["order_id"], until="FAILED")
    assert refund["attempts"] == 4 and refund["last_error"].startswith("PROVIDER_UNAVAILABLE")
    case = await desk.case_of(order["order_id"], kind="REFUND_FAILED")
    assert case["allowed_actions"] == ["retry_refund", "record_manual_refund"]
    # paying back by hand while the provider cannot say whether it has the refund would risk paying twice
    blind = await desk.decide(case["case_id"], "record_manual_refund", staff="fay", role="finance", reference="X1")
    assert (blind.status_code, blind.json()["code"]) == (503, "PROVIDER_UNAVAILABLE")

    await faults()  # the provider is back
    retried = await desk.decide(case["case_id"], "retry_refund", staff="fay", role="finance",
                                reason="provider outage over")
    assert (retried.status_code, retried.json()["status"]) == (200, "RESOLVED")
    await wait_status(client, order["order_id"], "REFUNDED")
    ledger = await provider_ledger(stack, "wechat", order["payment"]["transaction_id"])
    assert [(r["refund_id"], r["amount_fen"]) for r in ledger["refunds"]] == [(refund["refund_id"], 1000)]


def _sign(body: bytes, secret: str = "dev-provider-notify-secret") -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def test_a_notice_that_does_not_verify_changes_nothing(client: AsyncTopupClient, desk: Desk,
                                                            stack: Stack, faults: Any) -> None:
    await faults(notice_loss_rate=1.0, providers=["jd"])
    order = await _failed_order(client, "jd", paid=2000)
    refund = await desk.refund_of(order["order_id"], until="SUBMITTED")
    notice = {"refund_id": refund["refund_id"], "status": "SETTLED", "amount_fen": 2000, "provider_refund_no": "X"}
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        body = orjson.dumps(notice)
        forged = await http.post("/providers/v1/jd/refund-notices", content=body,
                                 headers={"X-Provider-Signature": _sign(body, "not-the-key")})
        assert (forged.status_code, forged.json()["code"]) == (401, "NOTICE_SIGNATURE_INVALID")
        unsigned = await http.post("/providers/v1/jd/refund-notices", content=body)
        assert (unsigned.status_code, unsigned.json()["code"]) == (401, "NOTICE_SIGNATURE_INVALID")
        more = orjson.dumps({**notice, "amount_fen": 200000})
        inflated = await http.post("/providers/v1/jd/refund-notices", content=more,
                                   headers={"X-Provider-Signature": _sign(more)})
        assert (inflated.status_code, inflated.json()["code"]) == (404, "REFUND_NOT_FOUND")
        elsewhere = await http.post("/providers/v1/alipay/refund-notices", content=body,
                                    headers={"X-Provider-Signature": _sign(body)})
        assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, "REFUND_NOT_FOUND")
        garbage = b"not json"
        junk = await http.post("/providers/v1/jd/refund-notices", content=garbage,
                               headers={"X-Provider-Signature": _sign(garbage)})
        assert (junk.status_code, junk.json()["code"]) == (400, "INVALID_REQUEST")
        assert (await http.post("/providers/v1/paypal/refund-notices", content=body)).status_code == 400
    assert (await desk.refund_of(order["order_id"]))["status"] in ("SUBMITTED", "SETTLED")  # by its own query
    await wait_status(client, order["order_id"], "REFUNDED")


async def _deadline(desk: Desk, confirmed_at: str) -> str:
    reply = await desk.call("GET", "/admin/v1/refund-calendar/deadline", role="finance",
                            params={"confirmed_at": confirmed_at})
    assert reply.status_code == 200, reply.text
    return reply.json()["working_day"]  # type: ignore[no-any-return]


async def test_the_deadline_runs_on_the_working_day_calendar(desk: Desk) -> None:
    year = (await desk.call("GET", "/admin/v1/refund-calendar/2026", role="finance")).json()
    assert year["configured"] and "2026-10-01" in year["holidays"] and "2026-10-10" in year["working_weekends"]
    assert await _deadline(desk, "2026-11-24T10:00:00+08:00") == "2026-11-25"  # Tuesday → Wednesday
    assert await _deadline(desk, "2026-11-27T18:00:00+08:00") == "2026-11-30"  # Friday → Monday
    assert await _deadline(desk, "2026-11-26T20:00:00-08:00") == "2026-11-30"  # that is Friday in Beijing
    assert await _deadline(desk, "2026-09-30T10:00:00+08:00") == "2026-10-08"  # National Day week off
    assert await _deadline(desk, "2026-10-09T15:00:00+08:00") == "2026-10-10"  # 调休: Saturday 10 Oct works
    assert await _deadline(desk, "2026-02-13T09:00:00+08:00") == "2026-02-14"  # 调休 before Spring Festival
    assert await _deadline(desk, "2026-02-14T09:00:00+08:00") == "2026-02-24"  # then nine days off

    # a year nobody configured counts weekends only, until finance enters it
    assert not (await desk.call("GET", "/admin/v1/refund-calendar/2031", role="finance")).json()["configured"]
    assert await _deadline(desk, "2031-05-01T10:00:00+08:00") == "2031-05-02"
    entered = await desk.call("PUT", "/admin/v1/refund-calendar/2031", staff="fay", role="finance",
                              json={"holidays": ["2031-05-01", "2031-05-02", "2031-05-05"],
                                    "working_weekends": ["2031-05-04"]})
    assert entered.status_code == 200, entered.text
    assert (entered.json()["configured"], entered.json()["updated_by"]) == (True, "fay")
    assert await _deadline(desk, "2031-04-30T10:00:00+08:00") == "2031-05-04"  # the 调休 Sunday
    assert await _deadline(desk, "2031-05-04T10:00:00+08:00") == "2031-05-06"

    reviewer = await desk.call("PUT", "/admin/v1/refund-calendar/2031", json={"holidays": [], "working_weekends": []})
    assert (reviewer.status_code, reviewer.json()["code"]) == (403, "ADMIN_FORBIDDEN")
    weekday = await desk.call("PUT", "/admin/v1/refund-calendar/2031", role="finance",
                              json={"holidays": [], "working_weekends": ["2031-05-06"]})
    assert (weekday.status_code, weekday.json()["code"]) == (400, "CALENDAR_INVALID")
    other_year = await desk.call("PUT", "/admin/v1/refund-calendar/2031", role="finance",
                                 json={"holidays": ["2030-12-31"], "working_weekends": []})
    assert (other_year.status_code, other_year.json()["code"]) == (400, "CALENDAR_INVALID")
    naive = await desk.call("GET", "/admin/v1/refund-calendar/deadline", params={"confirmed_at": "2026-11-24T10:00"})
    assert (naive.status_code, naive.json()["code"]) == (400, "INVALID_REQUEST")
    assert await _deadline(desk, "2031-04-30T10:00:00+08:00") == "2031-05-04"  # the refused changes changed nothing


async def test_each_refund_carries_its_deadline_and_shows_in_the_near_deadline_query(client: AsyncTopupClient,
                                                                                    desk: Desk) -> None:
    order = await _failed_order(client, "jd", "SANDBOX-UNKNOWN")  # refused: it stays unsettled
    refund = await desk.refund_of(order["order_id"], until="FAILED")
    day = await _deadline(desk, refund["failure_confirmed_at"].replace("Z", "+00:00"))
    deadline = datetime.fromisoformat(refund["deadline_at"].replace("Z", "+00:00")).astimezone(BEIJING)
    assert (deadline.hour, deadline.minute, (deadline - timedelta(days=1)).date().isoformat()) == (0, 0, day)
    due = (await desk.call("GET", "/admin/v1/refunds", role="finance",
                           params={"due_within_hours": 24 * 5, "limit": 200})).json()["refunds"]
    assert refund["refund_id"] in {r["refund_id"] for r in due}
    deadlines = [r["deadline_at"] for r in due]
    assert deadlines == sorted(deadlines) and all(r["status"] != "SETTLED" for r in due)
    failed = (await desk.call("GET", "/admin/v1/refunds", params={"status": "FAILED", "limit": 200})).json()
    assert refund["refund_id"] in {r["refund_id"] for r in failed["refunds"]}


async def test_a_settlement_the_order_never_heard_of_is_found_and_announced_again(
        client: AsyncTopupClient, stack: Stack) -> None:
    """Reconciliation of the refunds with the orders' ledger: the provider paid back, but the order core never
    heard (its RefundSettled lost with the broker's messages: played here by putting the order back to FAILED).
    The ledger check (every 2 s in these tests; the watchdog would only ask after 30 s) announces the
    settlement again; the provider pays back nothing more."""
    import asyncpg

    order = await _failed_order(client)
    await wait_status(client, order["order_id"], "REFUNDED")
    pool = await asyncpg.create_pool(stack.ports["database_url"], min_size=1, max_size=2)
    try:
        await pool.execute("UPDATE orders.orders SET status = 'FAILED', updated_at = now() WHERE order_id = $1",
                           order["order_id"])
    finally:
        await pool.close()
    started = time.monotonic()
    healed = await wait_status(client, order["order_id"], "REFUNDED", timeout=20)
    assert healed["status"] == "REFUNDED" and time.monotonic() - started < 20
    history = (await client.request("GET", f"/v1/recharges/{order['order_id']}",
                                    query={"include_history": "true"}))["history"]
    assert [h["transition"] for h in history].count("refund") == 2  # the first, then the one announced again
    ledger = await provider_ledger(stack, "alipay", order["payment"]["transaction_id"])
    assert [r["status"] for r in ledger["refunds"]] == ["SETTLED"]  # paid back once
