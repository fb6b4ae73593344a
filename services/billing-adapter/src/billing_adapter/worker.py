"""Carrying out fulfilment jobs at BOSS.

A job is claimed with a lease (one worker at a time, any replica), and every call to BOSS is logged before
its consequence is acted on. The outcome of each call decides what happens next:

* success        → the operation is done; when all are, FulfilmentSucceeded.
* terminal       → FulfilmentFailed with our reason code (the order fails and is refunded).
* retryable      → retried after an exponential backoff with jitter, `retries` times (F9); then
                   FulfilmentFailed(BOSS_BUSY_RETRIES_EXHAUSTED).
* unknown        → never guessed: BOSS is asked for the transaction's status, with bounded retries.
                   Found → success or failure as BOSS says; not found → the write is sent again with the
                   same transaction id (BOSS is idempotent on it); still unknown → FulfilmentOutcomeUnknown
                   and a person decides (UNDER_REVIEW).

Never two credits for one order: BOSS is idempotent by our transaction id, an order is worked on by one
lease holder at a time, and a redelivered request finds its job already there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from uuid import UUID

import asyncpg

from billing_adapter import repository
from billing_adapter.boss_client import BossClient, Call
from billing_adapter.domain.outcomes import Outcome, backoff
from billing_adapter.repository import Job, OperationRow
from billing_adapter.settings import BillingSettings
from topup.events.v1 import billing_pb2
from topup_platform.events import BILLING_TOPIC
from topup_platform.logging import get_logger
from topup_platform.outbox import Outbox
from topup_platform.timeutil import to_timestamp, utcnow

log = get_logger(__name__)


class FulfilmentWorker:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, boss: BossClient, settings: BillingSettings) -> None:
        self.pool = pool
        self.outbox = outbox
        self.boss = boss
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()

    # --- scheduling --------------------------------------------------------------------------------

    def dispatch(self, order_id: UUID) -> None:
        """Work on an order now (in the background)."""
        if self._stopping.is_set():
            return
        task = asyncio.create_task(self._process_guarded(order_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def dispatch_later(self, order_id: UUID, delay: float) -> None:
        timer = asyncio.get_running_loop().call_later(delay, self.dispatch, order_id)
        self._timers.add(timer)

    async def run(self) -> None:
        """The safety net: picks up due work that no in-process timer will (other replicas, restarts)."""
        while not self._stopping.is_set():
            try:
                async with self.pool.acquire() as conn:
                    due = await repository.due_jobs(conn, 200)
                for order_id in due:
                    self.dispatch(order_id)
            except Exception:
                log.exception("scheduler poll failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.poll_seconds)

    async def stop(self) -> None:
        self._stopping.set()
        for timer in self._timers:
            timer.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.settings.shutdown_grace_seconds)

    # --- one job -----------------------------------------------------------------------------------

    async def _process_guarded(self, order_id: UUID) -> None:
        try:
            await self.process(order_id)
        except Exception:
            log.exception("fulfilment processing failed; the lease will lapse and it will be retried",
                          order_id=str(order_id))

    async def process(self, order_id: UUID) -> None:
        async with self.pool.acquire() as conn:
            job = await repository.lease(conn, order_id, self.owner, self.settings.lease_seconds)
        if job is None:
            return
        if not job.started:
            await self._emit(job.order_id, billing_pb2.FulfilmentStarted(order_id=str(job.order_id),
                                                                         started_at=to_timestamp(utcnow())),
                             mark_started=True)
        serials = [op.boss_serial for op in job.operations if op.state == "succeeded"]
        for op in job.operations:
            if op.state == "succeeded":
                continue
            done = await self._carry_out(job, op)
            if done is None:
                return  # rescheduled, failed or unknown: the job's fate is recorded
            serials.append(done)
        async with self.pool.acquire() as conn, conn.transaction():
            attempts = await repository.attempts_count(conn, job.order_id)
            await repository.finish(conn, job.order_id, "succeeded")
            await self.outbox.add(conn, BILLING_TOPIC, billing_pb2.FulfilmentSucceeded(
                order_id=str(job.order_id), attempts=attempts, boss_serials=serials,
                completed_at=to_timestamp(utcnow())), aggregate_type="order", aggregate_id=str(job.order_id))
        self.outbox.wake()
        log.info("fulfilment succeeded", order_id=str(job.order_id), attempts=attempts)

    async def _carry_out(self, job: Job, op: OperationRow) -> str | None:
        """One operation, until it succeeds (returns BOSS's serial) or the job's fate is decided (None)."""
        while True:
            call = await self._write(job, op)
            attempts = await self._log(job, op, op.kind, call)
            result = call.result
            if result.outcome is Outcome.UNKNOWN:
                resolved = await self._resolve_unknown(job, op)
                if resolved is None:
                    await self._conclude_unknown(job, result.reason_code)
                    return None
                call = resolved
                result = call.result
                if result.outcome is Outcome.NOT_FOUND:
                    # BOSS never got it: sending it again with the same transaction id is safe.
                    if attempts > self.settings.retries:
                        await self._fail(job, "BOSS_NO_ANSWER_RETRIES_EXHAUSTED", "BOSS never recorded the call")
                        return None
                    continue
            if result.outcome is Outcome.SUCCESS:
                async with self.pool.acquire() as conn:
                    await repository.operation_done(conn, op.transaction_id, "succeeded", result.provider_code,
                                                    result.boss_serial)
                return result.boss_serial
            if result.outcome is Outcome.TERMINAL_FAILURE:
                async with self.pool.acquire() as conn:
                    await repository.operation_done(conn, op.transaction_id, "failed", result.provider_code, "")
                await self._fail(job, result.reason_code, f"BOSS refused: {result.provider_code}")
                return None
            # retryable
            if attempts > self.settings.retries:
                await self._fail(job, "BOSS_BUSY_RETRIES_EXHAUSTED",
                                 f"BOSS busy on all {attempts} attempts")
                return None
            delay = backoff(attempts, base=self.settings.backoff_base_seconds, cap=self.settings.backoff_cap_seconds)
            async with self.pool.acquire() as conn:
                await repository.reschedule(conn, job.order_id, delay, result.reason_code)
            self.dispatch_later(job.order_id, delay)
            log.info("fulfilment retry scheduled", order_id=str(job.order_id), attempts=attempts,
                     delay_s=round(delay, 3))
            return None

    async def _write(self, job: Job, op: OperationRow) -> Call:
        if op.kind == "credit":
            return await self.boss.credit(op.transaction_id, job.account_type, job.account_id, op.amount_fen)
        return await self.boss.data_pack(op.transaction_id, job.account_type, job.account_id, op.pack_code)

    async def _resolve_unknown(self, job: Job, op: OperationRow) -> Call | None:
        """Ask BOSS what happened; None if it cannot tell us within the bounded queries."""
        for query in range(1, self.settings.status_queries + 1):
            await asyncio.sleep(self.settings.status_query_backoff_seconds * 2 ** (query - 1))
            call = await self.boss.query(op.transaction_id)
            await self._log(job, op, "status_query", call)
            if call.result.outcome is not Outcome.UNKNOWN:
                return call
        return None

    async def _log(self, job: Job, op: OperationRow, kind: str, call: Call) -> int:
        async with self.pool.acquire() as conn:
            return await repository.record_attempt(
                conn, order_id=job.order_id, transaction_id=op.transaction_id, kind=kind,
                outcome=call.result.outcome.value, provider_code=call.result.provider_code,
                latency_ms=call.latency_ms, error=call.result.error,
            )

    async def _fail(self, job: Job, reason_code: str, reason: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            attempts = await repository.attempts_count(conn, job.order_id)
            await repository.finish(conn, job.order_id, "failed", reason_code)
            await self.outbox.add(conn, BILLING_TOPIC, billing_pb2.FulfilmentFailed(
                order_id=str(job.order_id), attempts=attempts, reason_code=reason_code, reason=reason,
                failed_at=to_timestamp(utcnow())), aggregate_type="order", aggregate_id=str(job.order_id))
        self.outbox.wake()
        log.info("fulfilment failed", order_id=str(job.order_id), reason_code=reason_code, attempts=attempts)

    async def _conclude_unknown(self, job: Job, reason_code: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            attempts = await repository.attempts_count(conn, job.order_id)
            await repository.finish(conn, job.order_id, "unknown", reason_code or "BOSS_NO_ANSWER")
            await self.outbox.add(conn, BILLING_TOPIC, billing_pb2.FulfilmentOutcomeUnknown(
                order_id=str(job.order_id), attempts=attempts, reason_code=reason_code or "BOSS_NO_ANSWER",
                reason="BOSS did not answer and its status queries could not tell", at=to_timestamp(utcnow())),
                aggregate_type="order", aggregate_id=str(job.order_id))
        self.outbox.wake()
        log.warning("fulfilment outcome unknown; a person must decide", order_id=str(job.order_id))

    async def _emit(self, order_id: UUID, event: billing_pb2.FulfilmentStarted, *, mark_started: bool) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if mark_started:
                await repository.mark_started(conn, order_id)
            await self.outbox.add(conn, BILLING_TOPIC, event, aggregate_type="order", aggregate_id=str(order_id))
        self.outbox.wake()
