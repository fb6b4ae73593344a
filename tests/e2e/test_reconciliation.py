"""Reconciliation (对账) with BOSS: differences by class, safe repairs, JSON and CSV reports."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import recharge, wait_final
from topup_client import ApiError, AsyncTopupClient
from topup_devstack.stack import Stack


def _reconcile(stack: Stack, start: datetime, end: datetime, tmp: Path, *, repair: bool,
               orders: bool = False) -> tuple[int, dict[str, Any], list[dict[str, str]]]:
    """Run the reconciliation CLI; with `orders`, as the billing adapter (its certificate), able to read the
    orders' ledger too."""
    out_json, out_csv = tmp / "report.json", tmp / "report.csv"
    args = [sys.executable, "-m", "billing_adapter", "reconcile", "--from", start.isoformat(), "--to",
            end.isoformat(), "--json", str(out_json), "--csv", str(out_csv), "--by", "alice"]
    env = {**stack.env, **stack.ports["env"]}
    if orders:
        env |= {**stack.ports["tls"]["billing-adapter"], "BILLING_ORDERS_TARGET": stack.grpc("orders")}
    done = subprocess.run([*args, *(["--repair"] if repair else [])], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1) and out_json.exists(), done.stderr[-3000:]
    return done.returncode, json.loads(out_json.read_text()), list(csv.DictReader(out_csv.open()))


async def _boss_faults(stack: Stack, **faults: float) -> None:
    async with httpx.AsyncClient() as http:
        (await http.put(f"{stack.boss}/sim/faults", json=faults)).raise_for_status()


async def test_reconciliation_repairs_what_boss_credited_and_reports_the_rest(
        client: AsyncTopupClient, stack: Stack, tmp_path: Path) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    # 1. BOSS credits, the reply is lost and no status query is answered: nobody here can know.
    await _boss_faults(stack, lost_reply_rate=1.0, query_timeout_rate=1.0)
    try:
        unknown = await client.create_recharge(**recharge("18612348801", "CREDIT_30", 3000))
        held = await wait_final(client, unknown["order_id"])
    finally:
        await _boss_faults(stack)
    assert (held["status"], held["status_reason_code"]) == ("UNDER_REVIEW", "BOSS_NO_ANSWER")
    # 2. Orders that succeeded, whose record at BOSS we then disturb.
    fine = [await client.create_recharge(**recharge(f"1861234880{i}", "CREDIT_10", 1000)) for i in (2, 3)]
    for o in fine:
        assert (await wait_final(client, o["order_id"]))["status"] == "SUCCEEDED"
    pool = await asyncpg.create_pool(stack.ports["database_url"], min_size=1, max_size=2)
    try:
        gone, changed = (o["order_id"].replace("-", "") + "-c" for o in fine)
        await pool.execute("DELETE FROM boss_sim.transactions WHERE transaction_id = $1", gone)
        await pool.execute("UPDATE boss_sim.transactions SET amount_fen = 999 WHERE transaction_id = $1", changed)
        await pool.execute(
            """INSERT INTO boss_sim.transactions (transaction_id, operation, account_type, account_id, amount_fen,
                                                  result_code, status, boss_serial)
               VALUES ('not-one-of-ours-1', 'credit', 'mobile', '18612348809', 5000, '0000', 'SUCCESS', 'Bx')""")
    finally:
        await pool.close()
    end = datetime.now(UTC) + timedelta(seconds=1)

    code, report, rows = _reconcile(stack, start, end, tmp_path, repair=True)
    assert code == 1  # some differences need a person
    kinds = {(d["kind"], d["order_id"], d["action"]) for d in report["differences"]}
    assert kinds == {
        ("CREDITED_AT_BOSS_NOT_HERE", unknown["order_id"], "repaired"),
        ("SUCCEEDED_HERE_MISSING_AT_BOSS", fine[0]["order_id"], "needs_review"),
        ("AMOUNT_MISMATCH", fine[1]["order_id"], "needs_review"),
        ("UNKNOWN_AT_US", "", "needs_review"),
    }
    assert report["counts"] == {"CREDITED_AT_BOSS_NOT_HERE": 1, "SUCCEEDED_HERE_MISSING_AT_BOSS": 1,
                                "AMOUNT_MISMATCH": 1, "UNKNOWN_AT_US": 1}
    assert {r["kind"] for r in rows} == {k for k, _, _ in kinds}  # the CSV says the same

    # The repair travels as an event: the order is credited after all, confirmed by BOSS's ledger.
    for _ in range(100):
        settled = await client.request("GET", f"/v1/recharges/{unknown['order_id']}",
                                       query={"include_history": "true"})
        if settled["status"] == "SUCCEEDED":
            break
        await asyncio.sleep(0.2)
    assert settled["status"] == "SUCCEEDED"
    assert settled["history"][-1] | {"at": None} == {
        "from_status": "UNDER_REVIEW", "to_status": "SUCCEEDED", "transition": "confirm_credited",
        "reason_code": "RECONCILED", "actor": "service:reconciliation", "at": None}

    # Once repaired, the same window reconciles clean of that order.
    _, again, _ = _reconcile(stack, start, end, tmp_path, repair=True)
    assert unknown["order_id"] not in {d["order_id"] for d in again["differences"]}


async def test_the_balance_is_for_permitted_channels(client: AsyncTopupClient, stack: Stack, new_channel) -> None:  # type: ignore[no-untyped-def]
    order = await client.create_recharge(**recharge("18612348810", "CREDIT_20", 2000))
    await wait_final(client, order["order_id"])
    balance = await client.request("GET", "/v1/accounts/mobile/18612348810/balance")
    assert balance["balance_fen"] >= 2000 and isinstance(balance["balance_fen"], int)
    with pytest.raises(ApiError) as err:
        await client.request("GET", "/v1/accounts/mobile/18600000001/balance")
    assert (err.value.status, err.value.code) == (404, "BOSS_SUBSCRIBER_NOT_FOUND")
    plain = await new_channel("noperm")
    with pytest.raises(ApiError) as err:
        await plain.request("GET", "/v1/accounts/mobile/18612348810/balance")
    assert (err.value.status, err.value.code) == (403, "CHANNEL_NOT_PERMITTED")


async def test_reconciliation_compares_the_orders_ledger_and_re_drives_a_credited_order(
        client: AsyncTopupClient, stack: Stack, tmp_path: Path) -> None:
    """BOSS credited the order and the adapter knows it, but the order core never heard (its outcome was lost with
    the broker's messages: played here by putting the order back to PROCESSING). Reconciliation compares the
    orders' ledger too: the difference is reported and repaired by announcing the outcome again, never twice
    credited."""
    start = datetime.now(UTC) - timedelta(seconds=1)
    order = await client.create_recharge(**recharge("18612348820", "CREDIT_10", 1000))
    assert (await wait_final(client, order["order_id"]))["status"] == "SUCCEEDED"
    pool = await asyncpg.create_pool(stack.ports["database_url"], min_size=1, max_size=2)
    try:
        await pool.execute("UPDATE orders.orders SET status = 'PROCESSING', updated_at = now() WHERE order_id = $1",
                           order["order_id"])
        end = datetime.now(UTC) + timedelta(seconds=1)
        code, report, rows = _reconcile(stack, start, end, tmp_path, repair=True, orders=True)
        assert code == 0 and [r["kind"] for r in rows if r["order_id"] == order["order_id"]] == [
            "CREDITED_AT_BOSS_ORDER_NOT_SUCCEEDED"]  # nothing for a person; the CSV says the same
        assert report["orders_compared"] is True
        mine = [d for d in report["differences"] if d["order_id"] == order["order_id"]]
        assert [(d["kind"], d["action"]) for d in mine] == [("CREDITED_AT_BOSS_ORDER_NOT_SUCCEEDED", "repaired")]
        assert "the order is PROCESSING" in mine[0]["detail"]
        healed = await wait_final(client, order["order_id"])
        assert healed["status"] == "SUCCEEDED"
        credits = await pool.fetchval("SELECT count(*) FROM boss_sim.transactions WHERE transaction_id = $1"
                                      " AND status = 'SUCCESS'", order["order_id"].replace("-", "") + "-c")
        assert credits == 1
        # repaired, the window reconciles clean of it
        _, again, _ = _reconcile(stack, start, end, tmp_path, repair=True, orders=True)
        assert order["order_id"] not in {d["order_id"] for d in again["differences"]}
    finally:
        await pool.close()
