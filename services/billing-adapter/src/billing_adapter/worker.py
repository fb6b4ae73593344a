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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from google.protobuf.message import Message

from billing_adapter import repository
from billing_adapter.boss_client import BossClient, Call
from billing_adapter.domain.outcomes import Classified, Outcome
from billing_adapter.gate import BOSS_RETRIES, BossGate, BreakerOpen
from billing_adapter.repository import Job, OperationRow
from billing_adapter.settings import BillingSettings
from topup.events.v1 import billing_pb2
from topup_platform import telemetry
from topup_platform.events import BILLING_TOPIC
from topup_platform.logging import get_logger
from topup_platform.outbox import Outbox
from topup_platform.retry import backoff
from topup_platform.timeutil import to_timestamp, utcnow

log = get_logger(__name__)


#: the answers that settle what BOSS did with a write
_DECISIVE = frozenset({Outcome.SUCCESS, Outcome.TERMINAL_FAILURE, Outcome.NOT_FOUND})


class LeaseLost(Exception):
    """This worker no longer holds the job (its lease lapsed and another worker may have it): it must neither
    call BOSS for it nor decide it."""


@dataclass(slots=True)
class Progress:
    """What a job has delivered so far: BOSS's serials, and the transaction ids of the delivered parts."""

    serials: list[str]
    delivered: list[str]


class FulfilmentWorker:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, boss: BossClient, gate: BossGate,
                 settings: BillingSettings) -> None:
        self.pool = pool
        self.outbox = outbox
        self.boss = boss
        self.gate = gate
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()

    # --- scheduling --------------------------------------------------------------------------------

    def dispatch(self, order_id: UUID, job: Job | None = None) -> None:
        """Work on an order now (in the background); `job` when this worker already holds its lease."""
        if self._stopping.is_set():
            return
        task = asyncio.create_task(self._process_guarded(order_id, job))
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

    async def _process_guarded(self, order_id: UUID, job: Job | None) -> None:
        try:
            await self.process(order_id, job)
        except Exception:
            log.exception("fulfilment processing failed; the lease will lapse and it will be retried",
                          order_id=str(order_id))

    async def process(self, order_id: UUID, job: Job | None = None) -> None:
        if job is None:
            async with self.pool.acquire() as conn:
                job = await repository.lease(conn, order_id, self.owner, self.settings.lease_seconds)
            if job is None:
                return
        with telemetry.continue_trace(job.trace_context, "fulfil order",
                                      attributes={"topup.order_id": str(job.order_id), "topup.sku": job.sku}), \
                structlog.contextvars.bound_contextvars(order_id=str(job.order_id)):
            await self._fulfil(job)

    async def _fulfil(self, job: Job) -> None:
        done_ops = [op for op in job.operations if op.state == "succeeded"]
        progress = Progress([op.boss_serial for op in done_ops], [op.transaction_id for op in done_ops])
        attempts = job.attempts
        pending = [op for op in job.operations if op.state != "succeeded"]
        try:
            for op in pending:
                done = await self._carry_out(job, op, attempts, last=op is pending[-1], progress=progress)
                if done is None:
                    return  # the job ended (succeeded, failed, unknown) or waits for a retry
                attempts = done
        except BreakerOpen as open_breaker:
            # BOSS is being left alone: the order waits (it does not fail) and resumes after the pause. A write
            # whose outcome was left unknown is sent again then, with the same transaction id: that is safe.
            async with self.pool.acquire() as conn:
                await repository.reschedule(conn, job.order_id, open_breaker.retry_after, "BOSS_BREAKER_OPEN",
                                           self.owner)
            self.dispatch_later(job.order_id, open_breaker.retry_after)
        except LeaseLost:
            log.warning("lease lost; the worker that holds the job now carries on", order_id=str(job.order_id))

    async def _carry_out(self, job: Job, op: OperationRow, attempts: int, *, last: bool,
                         progress: Progress) -> int | None:
        """One operation. Returns the write attempts so far when it succeeded and more operations follow;
        None when the job ended or waits for a retry. Every call to BOSS is logged before its consequence is
        acted on; the call that ends the job is logged in the statement that writes the outcome and its event."""
        order_id = str(job.order_id)
        final: Call | None = None  # the last status query, once retries are spent (see `_final_query`)
        giving_up: tuple[str, str] | None = None
        while True:
            if final is None:
                call, kind = await self._write(job, op), op.kind
                attempts += 1
                if call.result.outcome is Outcome.UNKNOWN:
                    await self._log(job, op, kind, call)
                    resolved = await self._resolve_unknown(job, op)
                    if resolved is None:
                        await self._unknown(job, attempts, call.result.reason_code or "BOSS_NO_ANSWER")
                        return None
                    call, kind = resolved, "status_query"
            else:
                call, kind = final, "status_query"
                if call.result.outcome not in _DECISIVE:  # no clear answer: ask as after any lost answer
                    await self._log(job, op, kind, call)
                    resolved = await self._resolve_unknown(job, op)
                    if resolved is None or resolved.result.outcome not in _DECISIVE:
                        await self._unknown(job, attempts, call.result.reason_code or "BOSS_NO_ANSWER")
                        return None
                    call = resolved
            result = call.result
            if result.outcome is Outcome.NOT_FOUND:  # (a status query) BOSS never got the write
                if attempts > self.settings.retries:
                    if final is None:  # a write whose answer was lost may still land: wait it out, ask again
                        giving_up = giving_up or ("BOSS_NO_ANSWER_RETRIES_EXHAUSTED", "BOSS never recorded the call")
                        await self._log(job, op, kind, call)
                        final = await self._final_query(job, op)
                        continue
                    reason_code, reason = giving_up or ("BOSS_NO_ANSWER_RETRIES_EXHAUSTED", "")
                    await self._fail(job, attempts, reason_code, reason, decided_by=(op, kind, call, "pending"),
                                     progress=progress)
                    return None
                await self._log(job, op, kind, call)
                continue  # sending it again with the same transaction id is safe
            if result.outcome is Outcome.SUCCESS:
                progress.serials.append(result.boss_serial)
                if not last:
                    await self._log(job, op, kind, call, settled="succeeded")
                    progress.delivered.append(op.transaction_id)
                    return attempts
                event = billing_pb2.FulfilmentSucceeded(order_id=order_id, attempts=attempts,
                                                        boss_serials=progress.serials,
                                                        completed_at=to_timestamp(utcnow()))
                if await self._end(job, "succeeded", "", event, decided_by=(op, kind, call, "succeeded")):
                    log.info("fulfilment succeeded", order_id=order_id, attempts=attempts)
                return None
            if result.outcome is Outcome.TERMINAL_FAILURE:
                await self._fail(job, attempts, result.reason_code, f"BOSS refused: {result.provider_code}",
                                 decided_by=(op, kind, call, "failed"), progress=progress)
                return None
            # retryable: BOSS did not do it and says so (but an earlier write whose answer was lost may still land)
            if attempts > self.settings.retries:
                giving_up = giving_up or ("BOSS_BUSY_RETRIES_EXHAUSTED", f"BOSS busy on all {attempts} attempts")
                await self._log(job, op, kind, call)
                final = await self._final_query(job, op)
                continue
            await self._log(job, op, kind, call)
            delay = backoff(attempts, base=self.settings.backoff_base_seconds, cap=self.settings.backoff_cap_seconds)
            async with self.pool.acquire() as conn:
                await repository.reschedule(conn, job.order_id, delay, result.reason_code, self.owner)
            self.dispatch_later(job.order_id, delay)
            BOSS_RETRIES.inc()
            log.info("fulfilment retry scheduled", order_id=order_id, attempts=attempts, delay_s=round(delay, 3))
            return None

    async def _write(self, job: Job, op: OperationRow) -> Call:
        async def send() -> Call:
            # BOSS applies it before this deadline or never; it is stored first, so that whoever holds the job
            # later knows until when a write whose answer was lost (or whose sender died) could still land
            deadline = utcnow() + timedelta(seconds=self.settings.boss_timeout_seconds)
            async with self.pool.acquire() as conn:
                if not await repository.before_write(conn, job.order_id, op.transaction_id, self.owner,
                                                     self.settings.lease_seconds, deadline):
                    raise LeaseLost(job.order_id)
            if op.kind == "credit":
                return await self.boss.credit(op.transaction_id, job.account_type, job.account_id, op.amount_fen,
                                              deadline=deadline)
            return await self.boss.data_pack(op.transaction_id, job.account_type, job.account_id, op.pack_code,
                                             deadline=deadline)

        return await self.gate.call(op.kind, send)

    async def _final_query(self, job: Job, op: OperationRow) -> Call:
        """Retries are spent and BOSS has not done the write, as far as its answers go. Before that is
        concluded (and the order refunded), no write of it may still be able to land: wait until the last
        deadline sent with one has passed (plus the clock skew allowed between BOSS and us), then ask again."""
        async with self.pool.acquire() as conn:
            deadline = await repository.write_deadline(conn, op.transaction_id)
            wait = 0.0 if deadline is None else max(
                0.0, (deadline - utcnow()).total_seconds() + self.settings.boss_clock_skew_seconds)
            # nobody else may write meanwhile: the lease covers the wait, the query and a margin
            if not await repository.hold_for(conn, job.order_id, self.owner,
                                             wait + 2 * self.settings.boss_timeout_seconds + 5):
                raise LeaseLost(job.order_id)
        if deadline is None:  # written without a deadline (an older adapter): no telling when it could land
            return Call(Classified(Outcome.UNKNOWN, "", "BOSS_WRITE_WITHOUT_DEADLINE"), 0)
        await asyncio.sleep(wait)
        return await self.gate.call("status_query", lambda: self.boss.query(op.transaction_id))

    async def _unknown(self, job: Job, attempts: int, reason_code: str) -> None:
        await self._end(job, "unknown", reason_code, billing_pb2.FulfilmentOutcomeUnknown(
            order_id=str(job.order_id), attempts=attempts, reason_code=reason_code,
            reason="BOSS did not answer and its status queries could not tell", at=to_timestamp(utcnow())))
        log.warning("fulfilment outcome unknown; a person must decide", order_id=str(job.order_id))

    async def _resolve_unknown(self, job: Job, op: OperationRow) -> Call | None:
        """Ask BOSS what happened; None if it cannot tell us within the bounded queries (each one logged)."""
        for query in range(1, self.settings.status_queries + 1):
            await asyncio.sleep(self.settings.status_query_backoff_seconds * 2 ** (query - 1))
            call = await self.gate.call("status_query", lambda: self.boss.query(op.transaction_id))
            if call.result.outcome is not Outcome.UNKNOWN:
                return call  # logged by whoever acts on it
            await self._log(job, op, "status_query", call)
        return None

    @staticmethod
    def _attempt(job: Job, op: OperationRow, kind: str, call: Call, settled: str) -> dict[str, Any]:
        return {"order_id": job.order_id, "transaction_id": op.transaction_id, "kind": kind,
                "outcome": call.result.outcome.value, "provider_code": call.result.provider_code,
                "latency_ms": call.latency_ms, "error": call.result.error, "operation_state": settled,
                "boss_serial": call.result.boss_serial}

    async def _log(self, job: Job, op: OperationRow, kind: str, call: Call, *, settled: str = "pending") -> None:
        async with self.pool.acquire() as conn:
            await repository.record_attempt(conn, **self._attempt(job, op, kind, call, settled))

    async def _fail(self, job: Job, attempts: int, reason_code: str, reason: str, *,
                    decided_by: tuple[OperationRow, str, Call, str], progress: Progress) -> None:
        """The job failed for good. If an earlier part of a combo was delivered, the failure says so: the
        order is then neither refunded in full nor kept half-done; a person decides."""
        event = billing_pb2.FulfilmentFailed(order_id=str(job.order_id), attempts=attempts, reason_code=reason_code,
                                             reason=reason, failed_at=to_timestamp(utcnow()),
                                             partially_fulfilled=bool(progress.delivered),
                                             delivered_transaction_ids=progress.delivered)
        if await self._end(job, "failed", reason_code, event, decided_by=decided_by):
            log.info("fulfilment failed", order_id=str(job.order_id), reason_code=reason_code, attempts=attempts)

    async def _end(self, job: Job, state: str, reason_code: str, event: Message, *,
                   decided_by: tuple[OperationRow, str, Call, str] | None = None) -> bool:
        """End the job: its outcome and the event announcing it in one statement, together with the call that
        decided it (operation, kind, call, the operation's new state). False if the job had already ended."""
        finish = repository.JobEnd(state, reason_code, self.outbox.row(
            BILLING_TOPIC, event, aggregate_type="order", aggregate_id=str(job.order_id)), self.owner)
        async with self.pool.acquire() as conn:
            if decided_by is None:
                ended = await repository.end_job(conn, job.order_id, finish)
            else:
                op, kind, call, settled = decided_by
                ended = await repository.record_attempt(
                    conn, **self._attempt(job, op, kind, call, settled), finish=finish) is not None
        if ended:
            self.outbox.wake()
        return ended
