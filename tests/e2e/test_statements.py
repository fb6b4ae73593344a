"""Daily statements (对账单) and the channel's whole history: a statement of a day with successes, refunds and
failures matches the ledger (the orders as the order core keeps them, with their histories) line by line, and
its trailer is their sums; bad dates, ranges and cursors are refused with their documented codes."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from tests.e2e.conftest import outcome, recharge, staff_headers, wait_final, wait_status
from tests.e2e.test_vouchers import _create_batch
from topup_client import ApiError, AsyncTopupClient, Order
from topup_devstack.stack import Stack

BEIJING = timezone(timedelta(hours=8))
FINAL = ("SUCCEEDED", "FAILED", "REFUNDED", "REJECTED")


async def _shop(new_channel, stack: Stack) -> AsyncTopupClient:  # type: ignore[no-untyped-def]
    """A channel of its own, so that its statement holds this test's orders and nothing else."""
    shop: AsyncTopupClient = await new_channel(f"stmt{time.time_ns() % 10**9}")
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        reply = await http.put(f"/admin/v1/channels/{shop.channel_id}/prices", headers=staff_headers("admin"),
                               json={"prices": [{"sku": "CREDIT_10", "price_fen": 990},
                                                {"sku": "CREDIT_20", "price_fen": 1980}]})
        assert reply.status_code == 200, reply.text
    return shop


def _last_final(order: Order) -> tuple[str, datetime]:
    assert order.history is not None
    change = [c for c in order.history if c.to_status in FINAL][-1]
    return change.to_status, change.at


async def test_a_day_with_successes_refunds_and_failures_matches_the_ledger(stack: Stack, new_channel) -> None:  # type: ignore[no-untyped-def]
    shop = await _shop(new_channel, stack)
    made = [await shop.create_recharge(**recharge(None, "CREDIT_10", 990)) for _ in range(3)]        # credited
    made += [await shop.create_recharge(**recharge(n, "CREDIT_20", 1980))                             # refunded
             for n in ("18600000001", "18600000002")]
    _, cards = await _create_batch(stack, 1, "CREDIT_10")
    made.append(await shop.redeem_voucher(channel_order_id=f"v-{time.time_ns()}", account_id="18600000001",
                                          pin=cards[0]["pin"]))  # failed, nothing was paid
    review = await shop.create_recharge(**recharge("18600000006", "CREDIT_10", 990))                  # not final
    orders = [await wait_final(shop, o.order_id, timeout=60) for o in made]
    await wait_status(shop, review.order_id, "UNDER_REVIEW")
    assert Counter(o.status for o in orders) == {"SUCCEEDED": 3, "REFUNDED": 2, "FAILED": 1}

    ledger = {o.order_id: await shop.get_recharge(o.order_id, include_history=True) for o in orders}
    by_day: dict[str, list[Order]] = defaultdict(list)
    for o in ledger.values():  # normally today; two days when the test runs across midnight in Beijing
        by_day[_last_final(o)[1].astimezone(BEIJING).date().isoformat()].append(o)
    for day, expected in by_day.items():
        statement = await shop.statement(day)
        assert (statement.channel_id, statement.date) == (shop.channel_id, day)
        assert statement.csv_text.startswith("order_id,channel_order_id,account_type,account_id,sku,")
        assert {line.order_id for line in statement.lines} == {o.order_id for o in expected}  # not the review one
        assert [line.final_at for line in statement.lines] == sorted(line.final_at for line in statement.lines)
        for line in statement.lines:
            order = ledger[line.order_id]
            status, final_at = _last_final(order)
            assert (line.channel_order_id, line.account_type, line.account_id, line.sku, line.payment_method,
                    line.paid_fen) == (order.channel_order_id, order.account.type, order.account.id, order.sku,
                                       order.payment.method, order.payment.paid_fen)
            assert (line.status, line.final_at, line.created_at) == (status, final_at, order.created_at)
            assert line.status == order.status  # every one of them rests now
            assert line.status_reason_code == order.status_reason_code
            assert line.refund_fen == (order.payment.paid_fen if order.status == "REFUNDED" else 0)
        for status in FINAL:
            mine = [o for o in expected if o.status == status]
            total = statement.totals[status]
            assert (total.count, total.paid_fen, total.refund_fen) == (
                len(mine), sum(o.payment.paid_fen for o in mine),
                sum(o.payment.paid_fen for o in mine if status == "REFUNDED"))
        assert statement.totals["TOTAL"].count == len(statement.lines) == len(expected)
        assert statement.totals["TOTAL"].paid_fen == sum(line.paid_fen for line in statement.lines)
        assert statement.totals["TOTAL"].refund_fen == sum(line.refund_fen for line in statement.lines) > 0
        assert not statement.complete  # the day (Beijing) has not ended

    yesterday = (datetime.now(BEIJING).date() - timedelta(days=1)).isoformat()
    if yesterday not in by_day:
        past = await shop.statement(yesterday)  # a day without orders: the header, and the trailer's zeros
        assert past.lines == [] and past.complete and past.totals["TOTAL"].count == 0


@pytest.mark.parametrize("date", ["", "2026-13-01", "2026-02-30", "2026-1-05", "20261205", "２０２６-１２-０５",
                                  "2026-12-05T00:00:00+08:00"])
async def test_a_bad_date_is_422_date_invalid(client: AsyncTopupClient, date: str) -> None:
    with pytest.raises(ApiError) as refused:
        await client.request("GET", "/v1/statements", query={"date": date} if date else None)
    assert (refused.value.status, refused.value.code) == (422, "DATE_INVALID"), date


async def test_a_day_after_today_is_422(client: AsyncTopupClient) -> None:
    tomorrow = (datetime.now(BEIJING).date() + timedelta(days=1)).isoformat()
    assert await outcome(client.statement(tomorrow)) == (422, "DATE_INVALID")


async def test_the_whole_history_in_pages_with_a_range_and_statuses(stack: Stack, new_channel) -> None:  # type: ignore[no-untyped-def]
    shop = await _shop(new_channel, stack)
    before = datetime.now(UTC)
    made = [await shop.create_recharge(**recharge(None, "CREDIT_10", 990)) for _ in range(3)]
    refunded = await shop.create_recharge(**recharge("18600000002", "CREDIT_20", 1980))
    for o in [*made, refunded]:
        await wait_final(shop, o.order_id, timeout=60)
    orders, cursor = [], None
    while True:
        page = await shop.history(from_=before, limit=2, cursor=cursor)
        orders += page.orders
        if not (cursor := page.next_cursor):
            break
    assert [o.order_id for o in orders] == [o.order_id for o in reversed([*made, refunded])]  # newest first
    only = await shop.history(from_=before, status="REFUNDED")
    assert [o.order_id for o in only.orders] == [refunded.order_id]
    later = await shop.history(from_=datetime.now(UTC) + timedelta(minutes=1))
    assert later.orders == [] and later.next_cursor is None
    today = datetime.now(BEIJING).date().isoformat()
    assert refunded.order_id in {o.order_id for o in (await shop.history(from_=today, limit=200)).orders}

    for query, code in [({"from": "yesterday"}, "TIME_RANGE_INVALID"), ({"from": "2026-12-05T10:00:00"},
                                                                         "TIME_RANGE_INVALID"),
                        ({"to": "2026-02-30"}, "TIME_RANGE_INVALID"),
                        ({"from": "2026-12-05", "to": "2026-12-04"}, "TIME_RANGE_INVALID"),
                        ({"cursor": "garbage"}, "CURSOR_INVALID"), ({"cursor": "not a cursor!"}, "CURSOR_INVALID"),
                        ({"cursor": "x" * 500}, "CURSOR_INVALID")]:
        with pytest.raises(ApiError) as refused:
            await shop.request("GET", "/v1/history", query=query)
        assert (refused.value.status, refused.value.code) == (422, code), query


async def test_statements_and_history_are_signed_like_every_channel_endpoint(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway) as http:
        for path in ("/v1/statements?date=2026-12-01", "/v1/history", "/v1/notifications"):
            reply = await http.get(path)
            assert (reply.status_code, reply.json()["code"]) == (401, "AUTH_HEADERS_MISSING"), path
        spec = (await http.get("/v1/openapi.json")).json()
    assert {"/v1/statements", "/v1/history", "/v1/notifications", "/v1/notifications/{notify_id}",
            "/v1/notifications/{notify_id}/replay"} <= set(spec["paths"])
    assert not [p for p in spec["paths"] if p.startswith("/admin/")]


async def test_a_channel_reads_only_its_own_statement(stack: Stack, new_channel,  # type: ignore[no-untyped-def]
                                                       client: AsyncTopupClient) -> None:
    order = await client.create_recharge(**recharge(None, "CREDIT_10", 1000))  # the demo channel's
    await wait_final(client, order.order_id)
    shop = await _shop(new_channel, stack)
    statement = await shop.statement(datetime.now(BEIJING).date())
    assert order.order_id not in {line.order_id for line in statement.lines}
    assert order.order_id not in {o.order_id for o in (await shop.history(limit=200)).orders}
