"""Fencing of fulfilment jobs on real PostgreSQL: a worker whose lease lapsed (another took the job over) can
neither send a write nor decide the job; a write's deadline is stored, and the write counted against its
budget, before it is sent; and the review desk cannot stop a job while a write of it could still land at BOSS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from billing_adapter import repository
from billing_adapter.repository import Job, JobEnd, OperationRow
from tests.integration.conftest import migrated_pool
from topup_platform.outbox import OutboxRow
from topup_platform.runtime import service_migrations
from topup_platform.timeutil import utcnow


@pytest.fixture
async def pool(infra, schema: str) -> AsyncIterator[asyncpg.Pool]:  # type: ignore[no-untyped-def]
    p = await migrated_pool(infra.database_url, schema, service_migrations("billing_adapter"), 5)
    yield p
    await p.close()


def _event(order_id: uuid.UUID) -> OutboxRow:
    return OutboxRow(str(uuid.uuid4()), "topup.billing.events.v1", str(order_id), "t", b"")


async def _job(conn: asyncpg.Connection, owner: str, lease_seconds: float) -> tuple[uuid.UUID, str]:
    order_id = uuid.uuid4()
    txn = order_id.hex + "-c"
    job = Job(order_id, "demo", "mobile", "18612345678", "CREDIT_10", "in_progress", 0, utcnow(),
              [OperationRow(txn, 0, "credit", 1000, "", "pending", "")])
    assert await repository.insert_jobs(conn, [(job, _event(order_id))], owner=owner, lease_seconds=lease_seconds)
    return order_id, txn


async def test_a_worker_whose_lease_was_taken_over_can_neither_write_nor_decide(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        order_id, txn = await _job(conn, "worker-a", lease_seconds=0.01)
        deadline = utcnow() + timedelta(seconds=2)
        await conn.execute("SELECT pg_sleep(0.05)")  # A's lease lapses
        taken = await repository.lease(conn, order_id, "worker-b", 30)
        assert taken is not None  # B holds the job now
        assert not await repository.before_write(conn, order_id, txn, "worker-a", 30, deadline, 4)
        assert not await repository.hold_for(conn, order_id, "worker-a", 10)
        assert not await repository.end_job(conn, order_id, JobEnd("failed", "X", _event(order_id), "worker-a"))
        assert (await repository.get_job(conn, order_id))["state"] == "in_progress"
        # the holder may
        assert await repository.before_write(conn, order_id, txn, "worker-b", 30, deadline, 4)
        assert await repository.write_deadline(conn, txn) == deadline
        assert await repository.end_job(conn, order_id, JobEnd("failed", "X", _event(order_id), "worker-b"))


async def test_the_latest_deadline_sent_is_kept(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        order_id, txn = await _job(conn, "worker-a", lease_seconds=30)
        later, earlier = utcnow() + timedelta(seconds=5), utcnow() + timedelta(seconds=1)
        assert await repository.before_write(conn, order_id, txn, "worker-a", 30, later, 4)
        assert await repository.before_write(conn, order_id, txn, "worker-a", 30, earlier, 4)
        assert await repository.write_deadline(conn, txn) == later


async def test_the_desk_cannot_stop_a_job_whose_write_could_still_land(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        order_id, txn = await _job(conn, "worker-a", lease_seconds=30)
        assert await repository.before_write(conn, order_id, txn, "worker-a", 30, utcnow() + timedelta(seconds=30), 4)
        assert await repository.end_job(conn, order_id, JobEnd("unknown", "BOSS_NO_ANSWER", _event(order_id),
                                                               "worker-a"))
        async with conn.transaction():
            _, busy = await repository.stop(conn, order_id, "alice", clock_skew_seconds=1)
        assert busy  # ended as unknown, but the write sent with it may still be applied for 30 s
        await conn.execute(
            "UPDATE operations SET write_deadline = now() - interval '2 seconds' WHERE transaction_id = $1", txn)
        async with conn.transaction():
            _, busy = await repository.stop(conn, order_id, "alice", clock_skew_seconds=1)
        assert not busy


async def test_writes_are_counted_before_they_are_sent_and_the_budget_outlives_the_lease(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        order_id, txn = await _job(conn, "worker-a", lease_seconds=0.01)
        deadline = utcnow() + timedelta(seconds=2)
        await conn.execute("SELECT pg_sleep(0.05)")
        assert await repository.lease(conn, order_id, "worker-a", 30) is not None
        assert await repository.before_write(conn, order_id, txn, "worker-a", 30, deadline, 4) == (1, 1)
        assert await repository.before_write(conn, order_id, txn, "worker-a", 30, deadline, 4) == (2, 2)
        # one write is answered and logged; logging it counts nothing more
        await repository.record_attempt(conn, order_id=order_id, transaction_id=txn, kind="credit",
                                        outcome="retryable", provider_code="5001", latency_ms=1, error="")
        await repository.record_attempt(conn, order_id=order_id, transaction_id=txn, kind="status_query",
                                        outcome="not_found", provider_code="3004", latency_ms=1, error="")
        await repository.reschedule(conn, order_id, 0, "BOSS_BUSY", "worker-a")
        # another worker takes the job up: it finds the writes sent (the unlogged one too) and the last answer
        job = await repository.lease(conn, order_id, "worker-b", 30)
        assert job is not None
        assert job.attempts == 2
        assert (job.operations[0].writes, job.operations[0].last_write) == (2, "retryable")
        assert await repository.before_write(conn, order_id, txn, "worker-b", 30, deadline, 4) == (3, 3)
        assert await repository.before_write(conn, order_id, txn, "worker-b", 30, deadline, 4) == (4, 4)
        # the budget is spent: no fifth write, whoever holds the job
        assert await repository.before_write(conn, order_id, txn, "worker-b", 30, deadline, 4) is None
        row = await repository.get_job(conn, order_id)
        assert (row["attempts"], row["status_queries"]) == (4, 1)


async def test_a_job_whose_operations_all_succeeded_is_ended_when_taken_up_again(pool: asyncpg.Pool) -> None:
    """The call that said BOSS did the last operation was logged (the operation succeeded) but could not end the
    job (its worker had lost the lease meanwhile). Whoever takes the job up next ends it as succeeded, with
    BOSS's serial and its event, and sends nothing: it must not stay in progress, leased again and again."""
    from billing_adapter.boss_client import BossClient
    from billing_adapter.gate import BossGate
    from billing_adapter.settings import BillingSettings
    from billing_adapter.worker import FulfilmentWorker
    from topup.events.v1 import billing_pb2, envelope_pb2
    from topup_platform.outbox import Outbox

    async with pool.acquire() as conn:
        order_id, txn = await _job(conn, "worker-a", lease_seconds=0.01)
        assert await repository.before_write(conn, order_id, txn, "worker-a", 0.01, utcnow(), 4)
        await repository.record_attempt(conn, order_id=order_id, transaction_id=txn, kind="credit",
                                        outcome="success", provider_code="0000", latency_ms=5, error="",
                                        operation_state="succeeded", boss_serial="BOSS-1")
        await conn.execute("SELECT pg_sleep(0.05)")  # worker-a's lease lapses: it could not end the job
    settings = BillingSettings(boss_url="http://127.0.0.1:9")  # nothing may be sent: nothing listens there
    worker = FulfilmentWorker(pool, Outbox("billing-adapter"), BossClient(settings.boss_url, 0.5),
                              BossGate(threshold=10, reset_seconds=1, max_in_flight=1), settings)
    await worker.process(order_id)
    async with pool.acquire() as conn:
        job = await repository.get_job(conn, order_id)
        assert (job["state"], job["attempts"]) == ("succeeded", 1)
        rows = await conn.fetch("SELECT envelope FROM outbox WHERE key = $1 AND event_type LIKE '%Succeeded'",
                                str(order_id))
        assert len(rows) == 1
        envelope = envelope_pb2.EventEnvelope.FromString(rows[0]["envelope"])
        event = billing_pb2.FulfilmentSucceeded()
        envelope.payload.Unpack(event)
        assert list(event.boss_serials) == ["BOSS-1"]
        assert len(await repository.attempts_of(conn, order_id)) == 1  # no call was made
