"""The manual review desk (F10) through the admin API, on the running platform: cases open themselves, staff
resolve them both ways, four eyes above the threshold, roles, the audit trail, and the no-double-refund race
(DESIGN.md invariants 3 and 4)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaProducer

from tests.e2e.conftest import Desk, provider_ledger, recharge, staff_headers, wait_final, wait_status
from topup.common.v1 import common_pb2
from topup.events.v1 import orders_pb2 as order_events
from topup.orders.v1 import orders_pb2, orders_pb2_grpc
from topup.risk.v1 import risk_pb2
from topup_client import AsyncTopupClient
from topup_devstack.stack import Stack
from topup_platform.events import ORDERS_TOPIC, kafka_headers, make_envelope

NO_ANSWER = "18600000006"  # BOSS never answers: the order ends UNDER_REVIEW (BOSS_NO_ANSWER)


async def _ambiguous(client: AsyncTopupClient, sku: str = "CREDIT_10", paid: int = 1000) -> dict[str, Any]:
    order = await client.create_recharge(**recharge(NO_ANSWER, sku, paid))
    held = await wait_final(client, order["order_id"])
    assert (held["status"], held["status_reason_code"]) == ("UNDER_REVIEW", "BOSS_NO_ANSWER")
    return held


def _trail(case: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["action"], a["actor"]) for a in case["actions"]]


async def test_an_ambiguous_order_confirmed_credited(client: AsyncTopupClient, desk: Desk) -> None:
    order = await _ambiguous(client)
    case = await desk.case_of(order["order_id"])
    assert (case["status"], case["reason_code"], case["amount_fen"]) == ("OPEN", "BOSS_NO_ANSWER", 1000)
    assert case["allowed_actions"] == ["confirm_credited", "confirm_not_credited"]
    assert not case["needs_four_eyes"]

    taken = await desk.call("POST", f"/admin/v1/review-cases/{case['case_id']}/assignment", json={})
    assert (taken.status_code, taken.json()["assignee"]) == (200, "alice")
    reply = await desk.decide(case["case_id"], "confirm_credited", reason="BOSS ops see serial 881 on the account")
    assert reply.status_code == 200, reply.text
    resolved = reply.json()
    assert (resolved["status"], resolved["resolution"], resolved["resolved_by"]) == (
        "RESOLVED", "confirm_credited", "alice")
    assert _trail(resolved) == [("opened", "service:billing-adapter"), ("assigned", "staff:alice"),
                                ("resolved", "staff:alice")]
    last = resolved["actions"][-1]
    assert last["role"] == "reviewer" and "serial 881" in last["reason"]
    assert (last["before"]["status"], last["after"]["status"], last["after"]["order_status"]) == (
        "OPEN", "RESOLVED", "SUCCEEDED")

    done = await client.get_recharge(order["order_id"])
    assert done["status"] == "SUCCEEDED"
    assert (await desk.call("GET", f"/admin/v1/orders/{order['order_id']}/refund", role="finance")).status_code == 404
    again = await desk.decide(case["case_id"], "confirm_not_credited")
    assert (again.status_code, again.json()["code"]) == (409, "CASE_ALREADY_RESOLVED")


async def test_an_ambiguous_order_confirmed_not_credited_is_refunded(client: AsyncTopupClient, desk: Desk,
                                                                     stack: Stack) -> None:
    order = await _ambiguous(client)
    case = await desk.case_of(order["order_id"])
    reply = await desk.decide(case["case_id"], "confirm_not_credited", reason="BOSS has no such transaction")
    assert reply.status_code == 200, reply.text
    assert reply.json()["actions"][-1]["after"]["order_status"] == "FAILED"
    done = await wait_status(client, order["order_id"], "REFUNDED")
    assert (done["status"], done["status_reason_code"]) == ("REFUNDED", "REVIEW_CONFIRMED_NOT_CREDITED")
    refund = await desk.refund_of(order["order_id"], until="SETTLED")
    assert refund["amount_fen"] == 1000
    ledger = await provider_ledger(stack, "alipay", order["payment"]["transaction_id"])
    assert ledger["refunded_fen"] == 1000 and len(ledger["refunds"]) == 1


async def test_the_desk_checks_roles_actions_and_reasons(client: AsyncTopupClient, desk: Desk) -> None:
    order = await _ambiguous(client)
    case_id = (await desk.case_of(order["order_id"]))["case_id"]
    finance = await desk.decide(case_id, "confirm_credited", staff="fay", role="finance")
    assert (finance.status_code, finance.json()["code"]) == (403, "ADMIN_FORBIDDEN")
    wrong = await desk.decide(case_id, "approve")
    assert (wrong.status_code, wrong.json()["code"]) == (409, "REVIEW_ACTION_NOT_APPLICABLE")
    refund_action = await desk.decide(case_id, "retry_refund", role="finance")
    assert (refund_action.status_code, refund_action.json()["code"]) == (409, "REVIEW_ACTION_NOT_APPLICABLE")
    mute = await desk.decide(case_id, "confirm_credited", reason="")
    assert (mute.status_code, mute.json()["code"]) == (400, "INVALID_REQUEST")
    nobody = await desk.http.post(f"/admin/v1/review-cases/{case_id}/decisions",
                                  json={"action": "confirm_credited", "reason": "because"})
    assert (nobody.status_code, nobody.json()["code"]) == (401, "ADMIN_AUTH_REQUIRED")
    missing = await desk.decide("00000000-0000-0000-0000-000000000000", "confirm_credited")
    assert (missing.status_code, missing.json()["code"]) == (404, "CASE_NOT_FOUND")
    assert (await desk.decide("not-an-id", "confirm_credited")).json()["code"] == "CASE_NOT_FOUND"
    # nothing of the above changed anything
    case = (await desk.call("GET", f"/admin/v1/review-cases/{case_id}")).json()
    assert (case["status"], _trail(case)) == ("OPEN", [("opened", "service:billing-adapter")])
    assert (await client.get_recharge(order["order_id"]))["status"] == "UNDER_REVIEW"


async def test_four_eyes_above_the_threshold(client: AsyncTopupClient, desk: Desk) -> None:
    order = await _ambiguous(client, "CREDIT_200", 20000)  # the threshold: 200 yuan and more
    case = await desk.case_of(order["order_id"])
    assert case["needs_four_eyes"]

    proposed = await desk.decide(case["case_id"], "confirm_not_credited", staff="alice")
    assert proposed.status_code == 200
    assert (proposed.json()["status"], proposed.json()["proposed_action"], proposed.json()["proposed_by"]) == (
        "AWAITING_SECOND_APPROVAL", "confirm_not_credited", "alice")
    assert (await client.get_recharge(order["order_id"]))["status"] == "UNDER_REVIEW"  # nothing happened yet

    path = f"/admin/v1/review-cases/{case['case_id']}/proposal"
    self_approved = await desk.call("POST", f"{path}/approval", staff="alice", json={"reason": "looks right"})
    assert (self_approved.status_code, self_approved.json()["code"]) == (403, "FOUR_EYES_SAME_PERSON")
    other_action = await desk.decide(case["case_id"], "confirm_credited", staff="bob")
    assert (other_action.status_code, other_action.json()["code"]) == (409, "CASE_AWAITING_SECOND_APPROVAL")
    declined = await desk.call("POST", f"{path}/decline", staff="bob", json={"reason": "ask BOSS once more"})
    assert (declined.status_code, declined.json()["status"]) == (200, "OPEN")

    await desk.decide(case["case_id"], "confirm_not_credited", staff="alice", reason="BOSS ops: not on the account")
    approved = await desk.call("POST", f"{path}/approval", staff="fay", role="finance",
                               json={"reason": "agree, refund it"})
    assert approved.status_code == 200, approved.text
    resolved = approved.json()
    assert (resolved["status"], resolved["resolution"], resolved["resolved_by"]) == (
        "RESOLVED", "confirm_not_credited", "alice+fay")
    assert [a for a, _ in _trail(resolved)] == ["opened", "proposed", "declined", "proposed", "approved", "resolved"]
    assert resolved["actions"][4]["role"] == "finance"
    assert (await wait_status(client, order["order_id"], "REFUNDED"))["status"] == "REFUNDED"
    assert (await desk.refund_of(order["order_id"], until="SETTLED"))["amount_fen"] == 20000


async def _held(stack: Stack, paid: int = 2000) -> str:
    """An order the risk engine held for review (REVIEW): never sent to BOSS until a person approves it."""
    body = recharge("18612349876", "CREDIT_20", paid)
    async with stack.channel("orders", "gateway") as channel:  # as the gateway would, after risk said REVIEW
        created = await orders_pb2_grpc.OrdersServiceStub(channel).CreateRecharge(orders_pb2.CreateRechargeRequest(
            channel_id="demo", channel_order_id=body["channel_order_id"],
            account=common_pb2.Account(type=common_pb2.ACCOUNT_TYPE_MOBILE, id=body["account_id"]), sku="CREDIT_20",
            payment=common_pb2.Payment(method=common_pb2.PAYMENT_METHOD_WECHAT,
                                       transaction_id=body["transaction_id"], paid_fen=paid),
            risk_decision=risk_pb2.Decision(decision_id=f"test-{time.time_ns()}", outcome=risk_pb2.OUTCOME_REVIEW,
                                            reason_code="RISK_LARGE_AMOUNT")))
    assert created.order.status == orders_pb2.ORDER_STATUS_UNDER_REVIEW
    return created.order.order_id


async def test_a_held_order_approved_is_fulfilled(client: AsyncTopupClient, desk: Desk, stack: Stack) -> None:
    order_id = await _held(stack)
    case = await desk.case_of(order_id)
    assert (case["reason_code"], case["allowed_actions"]) == ("RISK_REVIEW", ["approve", "reject_held"])
    wrong = await desk.decide(case["case_id"], "confirm_credited")
    assert (wrong.status_code, wrong.json()["code"]) == (409, "REVIEW_ACTION_NOT_APPLICABLE")
    assert (await desk.decide(case["case_id"], "approve", reason="known customer")).status_code == 200
    assert (await wait_final(client, order_id))["status"] == "SUCCEEDED"


async def test_a_held_order_rejected_is_refunded(client: AsyncTopupClient, desk: Desk, stack: Stack) -> None:
    order_id = await _held(stack)
    case = await desk.case_of(order_id)
    assert (await desk.decide(case["case_id"], "reject_held", reason="stolen card pattern")).status_code == 200
    done = await wait_final(client, order_id)
    assert (done["status"], done["status_reason_code"]) == ("REFUNDED", "REVIEW_REJECTED")
    refund = await desk.refund_of(order_id, until="SETTLED")
    assert (refund["payment"]["method"], refund["amount_fen"]) == ("wechat", 2000)


async def _redeliver_failure(stack: Stack, order_id: str) -> None:
    """As soon as the order is FAILED, its FAILED event again: the very record (an at-least-once redelivery)
    and copies under new event ids (a producer's retry gone wrong), three of each."""
    async with stack.channel("orders") as channel:
        orders = orders_pb2_grpc.OrdersServiceStub(channel)
        while (order := await orders.GetOrder(orders_pb2.GetOrderRequest(order_id=order_id, include_history=True))
               ).status == orders_pb2.ORDER_STATUS_UNDER_REVIEW:
            await asyncio.sleep(0.01)
    change = next(c for c in order.history if c.transition == "confirm_not_credited")
    failed = orders_pb2.Order()
    failed.CopyFrom(order)
    del failed.history[:]
    failed.status = orders_pb2.ORDER_STATUS_FAILED
    producer = AIOKafkaProducer(bootstrap_servers=stack.ports["kafka_bootstrap"])
    await producer.start()
    try:
        original = make_envelope(order_events.OrderStatusChanged(order=failed, change=change),
                                 aggregate_type="order", aggregate_id=order_id, producer="orders")
        for envelope in [original] * 3 + [make_envelope(order_events.OrderStatusChanged(order=failed, change=change),
                                                        aggregate_type="order", aggregate_id=order_id,
                                                        producer="orders") for _ in range(3)]:
            await producer.send_and_wait(ORDERS_TOPIC, envelope.SerializeToString(), key=order_id.encode(),
                                         headers=kafka_headers(envelope))
    finally:
        await producer.stop()


async def test_one_refund_when_people_and_redelivered_events_race(client: AsyncTopupClient, desk: Desk,
                                                                  stack: Stack) -> None:
    order = await _ambiguous(client, "CREDIT_20", 2000)
    case_id = (await desk.case_of(order["order_id"]))["case_id"]

    async def late_staff() -> list[Any]:  # more people acting while the failure is being redelivered
        await wait_status(client, order["order_id"], "FAILED", timeout=10)
        return list(await asyncio.gather(*(desk.decide(case_id, "confirm_not_credited", staff=n)
                                           for n in ("carol", "dave"))))

    decisions = [desk.decide(case_id, "confirm_not_credited", staff=name) for name in ("alice", "bob") * 3]
    replies = await asyncio.gather(*decisions, late_staff(), _redeliver_failure(stack, order["order_id"]))
    answers = [*replies[:6], *replies[6]]
    assert sorted(r.status_code for r in answers) == [200] + [409] * 7, [r.text for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"CASE_ALREADY_RESOLVED"}

    assert (await wait_status(client, order["order_id"], "REFUNDED"))["status"] == "REFUNDED"
    await asyncio.sleep(1.0)  # let the redelivered events and any stragglers land
    ledger = await provider_ledger(stack, "alipay", order["payment"]["transaction_id"])
    assert [(r["amount_fen"], r["status"]) for r in ledger["refunds"]] == [(2000, "SETTLED")]
    seen = (await desk.call("GET", f"/admin/v1/orders/{order['order_id']}")).json()
    transitions = [c["transition"] for c in seen["history"]]
    assert (transitions.count("confirm_not_credited"), transitions.count("refund")) == (1, 1)


async def test_the_queue_lists_open_cases_oldest_first(client: AsyncTopupClient, desk: Desk) -> None:
    first = await _ambiguous(client)
    second = await _ambiguous(client)
    first_case = await desk.case_of(first["order_id"])
    second_case = await desk.case_of(second["order_id"])
    queue = (await desk.call("GET", "/admin/v1/review-cases", role="finance",
                             params={"status": "OPEN", "kind": "ORDER_UNDER_REVIEW", "limit": 200})).json()
    ids = [c["case_id"] for c in queue["cases"]]
    assert ids.index(first_case["case_id"]) < ids.index(second_case["case_id"])
    assert all(c["status"] != "RESOLVED" for c in queue["cases"])
    bad = await desk.call("GET", "/admin/v1/review-cases", params={"status": "MAYBE"})
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_REQUEST")
    assert (await desk.http.get("/admin/v1/review-cases", headers=staff_headers("admin"))).status_code == 200
