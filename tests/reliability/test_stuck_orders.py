"""F10 on the running platform: an order stuck for 30 minutes reaches the review desk (the sweeper runs with
an injected clock, not for 30 minutes), a person cannot decide it while the BOSS adapter cannot be told to
stop, and the adapter's late word still moves the order on and closes the case."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from orders.catalog import Catalog
from orders.service import OrdersService
from orders.sweeper import StuckSweeper
from tests.e2e.conftest import Desk, recharge, wait_status
from topup_client import AsyncTopupClient
from topup_devstack.stack import Stack
from topup_platform.db import create_pool
from topup_platform.outbox import Outbox


async def test_a_stuck_order_goes_to_the_desk_and_a_late_word_from_boss_closes_it(
        rstack: Stack, rclient: AsyncTopupClient, adapters: Callable[..., Any]) -> None:
    order = await rclient.create_recharge(**recharge("18612300001", "CREDIT_20", 2000))  # no adapter runs yet
    assert order["status"] == "PENDING"

    pool = await create_pool(rstack.ports["database_url"], schema="orders", application_name="drill", max_size=2)
    try:
        service = OrdersService(pool, Outbox("orders"), Catalog(pool))
        now = datetime.now(UTC)
        assert order["order_id"] not in {str(o) for o in await StuckSweeper(
            service, timedelta(minutes=30), clock=lambda: now + timedelta(minutes=29)).sweep()}
        flagged = await StuckSweeper(service, timedelta(minutes=30), clock=lambda: now + timedelta(minutes=31)).sweep()
    finally:
        await pool.close()
    assert order["order_id"] in {str(o) for o in flagged}

    held = await wait_status(rclient, order["order_id"], "UNDER_REVIEW", timeout=10)
    assert held["status_reason_code"] == "STUCK_PENDING"
    async with httpx.AsyncClient(base_url=rstack.gateway, timeout=30) as http:
        desk = Desk(http)
        case = await desk.case_of(order["order_id"])
        assert (case["reason_code"], case["allowed_actions"]) == ("STUCK_PENDING",
                                                                   ["confirm_credited", "confirm_not_credited"])
        # the BOSS adapter is down: it cannot be told to stop, so nobody may declare the order not credited
        blind = await desk.decide(case["case_id"], "confirm_not_credited")
        assert (blind.status_code, blind.json()["code"]) == (503, "SERVICE_UNAVAILABLE")
        assert (await desk.call("GET", f"/admin/v1/review-cases/{case['case_id']}")).json()["status"] == "OPEN"

        adapters()  # the adapter comes back, finds the order's request, and credits it
        done = await wait_status(rclient, order["order_id"], "SUCCEEDED")
        assert done["status"] == "SUCCEEDED"
        for _ in range(200):  # the desk hears of it from the order's events
            closed = (await desk.call("GET", f"/admin/v1/review-cases/{case['case_id']}")).json()
            if closed["status"] == "RESOLVED":
                break
            await asyncio.sleep(0.1)
        assert (closed["status"], closed["resolution"], closed["resolved_by"]) == (
            "RESOLVED", "start_fulfilment", "billing-adapter")
        assert closed["actions"][-1]["action"] == "closed_by_system"
