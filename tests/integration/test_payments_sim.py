"""The payment-provider simulator on real PostgreSQL: a sandbox's leniency (a payment it never saw is taken as
paid, for the original amount the first refund names, else for that refund's amount), but never a refund that
would sum past what was paid, however many arrive at once; such a refund is REJECTED REFUND_EXCEEDS_PAYMENT,
which the refund service takes as final (a person looks), never as something to send again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
import pytest

from payments_sim.app import create_app
from payments_sim.settings import PaymentsSimSettings
from refunds.provider import Rejected, classify


@pytest.fixture
async def sim(infra, schema: str) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    class Settings(PaymentsSimSettings):
        db_schema: ClassVar[str] = schema

    app = create_app(Settings(**infra.env(), TOPUP_MIGRATE_ON_START=True, settle_seconds=3600))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        yield http


async def _refund(sim: httpx.AsyncClient, refund_id: str, txn: str, amount: int, **extra: Any) -> dict[str, Any]:
    reply = await sim.post("/wechat/v1/refunds", json={"refund_id": refund_id, "transaction_id": txn,
                                                       "amount_fen": amount, **extra})
    assert reply.status_code == 202, reply.text
    return reply.json()  # type: ignore[no-any-return]


async def test_an_unseen_payment_is_taken_as_paid_for_the_original_amount_named(sim: httpx.AsyncClient) -> None:
    assert (await _refund(sim, "r1", "T-1", 3000, paid_fen=5000))["status"] == "ACCEPTED"
    over = await _refund(sim, "r2", "T-1", 3000, paid_fen=5000)
    assert (over["status"], over["reject_reason"]) == ("REJECTED", "REFUND_EXCEEDS_PAYMENT")
    assert (await _refund(sim, "r3", "T-1", 2000))["status"] == "ACCEPTED"  # what is left of it
    assert (await _refund(sim, "r1", "T-1", 3000, paid_fen=5000))["status"] == "ACCEPTED"  # idempotent on the id
    ledger = (await sim.get("/wechat/v1/payments/T-1")).json()
    assert ledger["amount_fen"] == 5000
    assert [(r["refund_id"], r["status"]) for r in ledger["refunds"]] == [
        ("r1", "ACCEPTED"), ("r2", "REJECTED"), ("r3", "ACCEPTED")]
    # the refund service's adapter takes the refusal as final
    assert classify(202, over) == Rejected("REFUND_EXCEEDS_PAYMENT")


async def test_without_an_original_amount_the_first_refund_is_taken_as_the_whole_payment(
        sim: httpx.AsyncClient) -> None:
    assert (await _refund(sim, "a1", "T-2", 5000))["status"] == "ACCEPTED"
    assert (await _refund(sim, "a2", "T-2", 5000))["status"] == "REJECTED"
    assert (await _refund(sim, "a3", "T-2", 1))["reject_reason"] == "REFUND_EXCEEDS_PAYMENT"
    assert (await sim.get("/wechat/v1/payments/T-2")).json()["amount_fen"] == 5000


async def test_a_registered_payment_keeps_its_amount(sim: httpx.AsyncClient) -> None:
    registered = await sim.post("/wechat/v1/payments", json={"transaction_id": "T-3", "amount_fen": 1000})
    assert registered.status_code == 201
    # the original amount a refund names does not change what the provider knows was paid
    assert (await _refund(sim, "b1", "T-3", 2000, paid_fen=2000))["reject_reason"] == "REFUND_EXCEEDS_PAYMENT"
    assert (await _refund(sim, "b2", "T-3", 1000, paid_fen=2000))["status"] == "ACCEPTED"


async def test_racing_refunds_of_one_unseen_payment_never_sum_past_it(sim: httpx.AsyncClient) -> None:
    answers = await asyncio.gather(*(_refund(sim, f"c{i}", "T-4", 1000, paid_fen=5000) for i in range(12)))
    assert sorted(a["status"] for a in answers) == ["ACCEPTED"] * 5 + ["REJECTED"] * 7
    ledger = (await sim.get("/wechat/v1/payments/T-4")).json()
    assert sum(r["amount_fen"] for r in ledger["refunds"] if r["status"] != "REJECTED") == 5000
