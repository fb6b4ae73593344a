"""The broker loses everything (issue 13, item 3): killed with SIGKILL under load and started again empty, as the
embedded Tansu broker always is. Events that were in it and not yet consumed are gone: fulfilment requests
(orders PENDING without a job), BOSS outcomes (orders credited or refused at BOSS, still PENDING), refund
settlements (orders refunded at the provider, still FAILED). With nobody involved, every order ends where it
should within the watchdog's bound: credited → SUCCEEDED, refused → REFUNDED; nothing credited twice or refunded
twice, nothing both, none neither (BOSS's and the payment provider's records against the orders' ledger); new
orders go through once the broker is back.

The test owns the broker (the launcher is given its address), so it can kill it; it freezes the consumers of
the events it wants lost (SIGSTOP) so that those events are still in the broker when it dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import FAST, new_id, staff_headers
from tests.reliability.conftest import Broker, boss_ledger, paused, provider_refunds, set_faults, wait_all_final
from topup_client import AsyncTopupClient
from topup_devstack.stack import Stack, start_stack

#: BOSS refuses these for good (not found, suspended): their orders are refunded
REFUSED = ("18600000001", "18600000002")
#: the watchdog's clock in this test: no progress for 2 s → the next step is asked for again
REDRIVE_AFTER = 2.0
#: how long after the broker's return every order must be final (production: 3 minutes). Not shorter: a consumer
#: whose partition came back shorter than the position it had reached (the broker restarted empty; Tansu does not
#: answer such a fetch with OFFSET_OUT_OF_RANGE) reads again only once new messages, re-drives among them, pass
#: that position
BOUND = 120.0

_numbers = iter(range(10_000_000, 99_999_999, 13))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("broker"))
    b.start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def hstack(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {**FAST, "DATABASE_URL": "", **broker.env,
           "BOSS_SIM_LATENCY_MS": "10", "PAYMENTS_SIM_SETTLE_SECONDS": "1.5",
           # BOSS answers slowly (0.8 s) while the order core is frozen: well within the adapter's timeout, so
           # every outcome is clear (an unknown one would rightly go to a person)
           "BILLING_BOSS_TIMEOUT_SECONDS": "3",
           "ORDERS_REDRIVE_AFTER_SECONDS": str(REDRIVE_AFTER), "ORDERS_REDRIVE_MAX_INTERVAL_SECONDS": "4",
           "ORDERS_REDRIVE_SWEEP_SECONDS": "0.5", "KAFKA_METADATA_MAX_AGE_MS": "3000",
           # the review desk's sweeper is not a way out: it must not take orders that healing can finish
           "ORDERS_STUCK_AFTER_SECONDS": "20", "ORDERS_STUCK_SWEEP_SECONDS": "1"}
    s = start_stack(tmp_path_factory.mktemp("hstack"), env)
    yield s
    s.stop()


async def _order(client: AsyncTopupClient, account: str) -> dict[str, Any]:
    return await client.create_recharge(  # type: ignore[no-any-return]
        channel_order_id=new_id("heal"), account_id=account, sku="CREDIT_10", payment_method="alipay",
        transaction_id=new_id("PAY"), paid_fen=1000)


async def _orders(client: AsyncTopupClient, normal: int, refused: int) -> list[dict[str, Any]]:
    accounts = [f"185{next(_numbers):08d}" for _ in range(normal)] + [REFUSED[i % 2] for i in range(refused)]
    gate = asyncio.Semaphore(8)

    async def one(account: str) -> dict[str, Any]:
        async with gate:
            return await _order(client, account)

    return list(await asyncio.gather(*(one(a) for a in accounts)))


async def _wait(client: AsyncTopupClient, orders: list[dict[str, Any]], statuses: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = [(await client.get_recharge(o["order_id"]))["status"] for o in orders]
        if set(now) <= statuses:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not all {statuses} within {timeout} s: {now}")


async def _restart_empty(broker: Broker) -> float:
    """Kill the broker (SIGKILL), leave it dead a moment, start it again (empty); returns when it is back."""
    broker.kill()
    await asyncio.sleep(2.0)
    broker.start()
    return time.monotonic()


@pytest.mark.timeout(300)
async def test_after_the_broker_lost_everything_every_order_ends_where_it_should(
        hstack: Stack, broker: Broker, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=f"{hstack.gateway}/admin/v1/risk", headers=staff_headers("admin"),
                                 timeout=30) as admin:  # many recharges of one number would be a velocity alarm
        for number in REFUSED:
            (await admin.put(f"/lists/allow/account/{number}", json={"reason": "broker loss drill"})).raise_for_status()
    async with AsyncTopupClient(hstack.gateway, "demo", "demo-secret", retries=3) as client:
        # 1. Fulfilment requests lost: the BOSS adapter is frozen while orders are taken, then the broker dies.
        with paused(hstack, "billing_adapter"):
            unrequested = await _orders(client, normal=12, refused=6)
            await asyncio.sleep(1.0)  # the order core's relay has published their requests
            await _restart_empty(broker)

        # 2. Outcomes and settlements lost: the order core is frozen while BOSS answers and refunds settle.
        refused_first = await _orders(client, normal=0, refused=8)
        await _wait(client, refused_first, {"FAILED"}, timeout=20)  # their refunds are on the way (1.5 s)
        await set_faults(hstack, latency_ms=800)  # the credits are at BOSS when the order core freezes
        try:
            in_flight = await _orders(client, normal=16, refused=0)
            await asyncio.sleep(0.3)
            with paused(hstack, "orders"):
                await asyncio.sleep(3.0)  # BOSS answers, refunds settle: their events wait in the broker...
                back = await _restart_empty(broker)  # ...and are gone
        finally:
            await set_faults(hstack, latency_ms=10)

        # 3. Once it is back, new orders are taken and go through.
        after = await _orders(client, normal=6, refused=2)

        everything = unrequested + refused_first + in_flight + after
        ids = [o["order_id"] for o in everything]
        final = await wait_all_final(client, ids, timeout=BOUND - (time.monotonic() - back))
        healed_in = time.monotonic() - back
        stuck = {i: (await client.get_recharge(i))["status"] for i in ids if i not in final}
        assert not stuck, f"{len(stuck)} of {len(ids)} orders not final {BOUND} s after the broker's return: {stuck}"

    pool = await asyncpg.create_pool(hstack.ports["database_url"], min_size=1, max_size=4)
    assert pool is not None
    try:
        await _check(pool, everything, final)
        decided = await pool.fetchval("SELECT count(*) FROM orders.review_decisions WHERE order_id = ANY($1::uuid[])",
                                      ids)
        assert decided == 0  # nobody was involved
        redriven = await pool.fetchval("SELECT count(*) FROM orders.orders WHERE order_id = ANY($1::uuid[])"
                                       " AND redrives > 0", ids)
        assert redriven > 0  # the watchdog healed them: what the broker lost was asked for again
    finally:
        await pool.close()
    print(f"\n{len(ids)} orders final {healed_in:.1f} s after the broker came back")  # noqa: T201


async def _check(db: asyncpg.Pool, orders: list[dict[str, Any]], final: dict[str, dict[str, Any]]) -> None:
    """Credited at BOSS → SUCCEEDED, refused → REFUNDED; BOSS's and the provider's records agree with the orders'
    ledger: credited exactly once or refunded exactly once, never both, never neither."""
    ledger = await boss_ledger(db, list(final))
    refunds = await provider_refunds(db, [o["payment"]["transaction_id"] for o in orders])
    for order in orders:
        order_id, status = order["order_id"], final[order["order_id"]]["status"]
        credits = [c["amount_fen"] for c in ledger[order_id]]
        paid_back = refunds[order["payment"]["transaction_id"]]
        if order["account"]["id"] in REFUSED:
            assert (status, credits, paid_back) == ("REFUNDED", [], [1000]), (order_id, status, credits, paid_back)
        else:
            assert (status, credits, paid_back) == ("SUCCEEDED", [1000], []), (order_id, status, credits, paid_back)
            balance = await db.fetchval("SELECT balance_fen FROM boss_sim.subscribers WHERE account_id = $1",
                                        order["account"]["id"])
            assert (balance or 0) == 1000  # credited once, whatever was asked again
