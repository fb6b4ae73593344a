"""Carrying out fulfilment jobs at BOSS.

A job is claimed with a lease (one worker at a time, any replica), and every call to BOSS is logged before
its consequence is acted on. The outcome of each call decides what happens next:

* success        → the operation is done; when all are, FulfilmentSucceeded.
* terminal       → FulfilmentFailed with our reason code (the order fails and is refunded).
* retryable      → retried after an exponential backoff with jitter, `retries` times (F9); then, once no
                   write can land any more and a last status query finds none did,
                   FulfilmentFailed(BOSS_BUSY_RETRIES_EXHAUSTED).
* unknown        → never guessed: BOSS is asked for the transaction's status, with bounded retries.
                   Found → success or failure as BOSS says; not found → the write is sent again with the
                   same transaction id (BOSS is idempotent on it); still unknown → FulfilmentOutcomeUnknown
                   and a person decides (UNDER_REVIEW).

The decisions are the pure policy's (`domain/policy.py`); this module only performs the steps it returns. The
retry budget (1 + `retries` writes per operation) counts writes sent, each counted durably before it is sent:
an open breaker, a restart or another worker taking the job over delays a job, never resets or multiplies its
writes. A job waiting (a backoff, the breaker) holds nothing: the other jobs go on meanwhile.

Never two credits for one order: BOSS is idempotent by our transaction id, an order is worked on by one
lease holder at a time, and a redelivered request finds its job already there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from google.protobuf.message import Message

from billing_adapter import repository
from billing_adapter.boss_client import BossClient, Call
from billing_adapter.domain import policy
from billing_adapter.domain.outcomes import Classified, Outcome
from billing_adapter.domain.policy import Ask, Conclude, Did, Escalate, Fail, Send, Succeed, Wait
from billing_adapter.gate import BOSS_RETRIES, BossGate, BreakerOpen
from billing_adapter.repository import Job, OperationRow
from billing_adapter.settings import BillingSettings
from topup.events.v1 import billing_pb2
from topup_platform import telemetry
from topup_platform.events import BILLING_TOPIC
from topup_platform.logging import get_logger
from topup_platform.outbox import Outbox
from topup_platform.timeutil import to_timestamp, utcnow

log = get_logger(__name__)


#: the answers that settle what BOSS did with a write
_DECISIVE = frozenset({Outcome.SUCCESS, Outcome.TERMINAL_FAILURE, Outcome.NOT_FOUND})


def _holder(job: Job, owner: str) -> str:
    """The claim a job is worked under: its lease's, or this process's for a job it created already leased."""
    return job.holder or owner


class LeaseLost(Exception):
    """This worker no longer holds the job (its lease lapsed and another worker may have it): it must neither
    call BOSS for it nor decide it."""


@dataclass(slots=True)
class Progress:
    """What a job has delivered so far: BOSS's serials, and the transaction ids of the delivered parts."""

    serials: list[str]
    delivered: list[str]
    #: the job's writes sent so far, all operations together (counted before each is sent)
    attempts: int


class FulfilmentWorker:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, boss: BossClient, gate: BossGate,
                 settings: BillingSettings) -> None:
        self.pool = pool
        self.outbox = outbox
        self.boss = boss
        self.gate = gate
        self.settings = settings
        self.policy = policy.Policy(settings.retries, settings.backoff_base_seconds, settings.backoff_cap_seconds)
        #: this process; each lease it takes is a claim of its own (`owner#n`), so a job it leases again while an
        #: earlier claim's task is still running (the lease lapsed under load) is fenced from that task too
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._claims = itertools.count(1)
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
                job = await repository.lease(conn, order_id, f"{self.owner}#{next(self._claims)}",
                                             self.settings.lease_seconds)
            if job is None:
                return
        with telemetry.continue_trace(job.trace_context, "fulfil order",
                                      attributes={"topup.order_id": str(job.order_id), "topup.sku": job.sku}), \
                structlog.contextvars.bound_contextvars(order_id=str(job.order_id)):
            await self._fulfil(job)

    async def _fulfil(self, job: Job) -> None:
        done_ops = [op for op in job.operations if op.state == "succeeded"]
        progress = Progress([op.boss_serial for op in done_ops], [op.transaction_id for op in done_ops],
                            job.attempts)
        pending = [op for op in job.operations if op.state != "succeeded"]
        if not pending:
            # BOSS did every operation, but the call that said so could not end the job (its worker had lost the
            # lease): end it now, from what is stored, sending nothing
            event = billing_pb2.FulfilmentSucceeded(order_id=str(job.order_id), attempts=job.attempts,
                                                    boss_serials=progress.serials, completed_at=to_timestamp(utcnow()))
            if await self._end(job, "succeeded", "", event):
                log.info("fulfilment succeeded (taken up after its last operation)", order_id=str(job.order_id),
                         attempts=job.attempts)
            return
        try:
            for op in pending:
                if not await self._carry_out(job, op, last=op is pending[-1], progress=progress):
                    return  # the job ended (succeeded, failed, unknown) or waits for a retry
        except BreakerOpen as open_breaker:
            # BOSS is being left alone: the order waits (it does not fail) and resumes after the pause. Nothing
            # was sent, so no attempt was spent; taken up again, the job goes on from what is stored (its writes
            # counted, a budget spent is concluded, never written again).
            async with self.pool.acquire() as conn:
                await repository.reschedule(conn, job.order_id, open_breaker.retry_after, "BOSS_BREAKER_OPEN",
                                           _holder(job, self.owner))
            self.dispatch_later(job.order_id, open_breaker.retry_after)
        except LeaseLost:
            log.warning("lease lost; the worker that holds the job now carries on", order_id=str(job.order_id))

    async def _carry_out(self, job: Job, op: OperationRow, *, last: bool, progress: Progress) -> bool:
        """One operation, step by step as the policy (`domain/policy.py`) says. True when it succeeded and more
        operations follow; False when the job ended or waits for a retry. Every call to BOSS is logged before
        its consequence is acted on; the call that ends the job is logged in the statement that writes the
        outcome and its event."""
        state = policy.resume(op.writes, Outcome(op.last_write) if op.last_write else None, self.policy)
        did, call, kind, logged = Did.RESUME, None, op.kind, True
        while True:
            step, state = policy.next_step(state, did, call.result if call else None, self.policy)
            if call is not None and not logged and not isinstance(step, Succeed | Fail | Escalate):
                await self._log(job, op, kind, call)
            match step:
                case Send():
                    writes, call = await self._write(job, op, progress)
                    state, did, kind, logged = replace(state, writes=writes), Did.WRITE, op.kind, False
                case Ask():
                    call, logged = await self._ask(job, op)
                    did, kind = Did.ASK, "status_query"
                case Conclude():
                    call, did, kind, logged = await self._final_query(job, op), Did.CONCLUDE, "status_query", False
                case Wait(delay=delay):
                    assert call is not None
                    async with self.pool.acquire() as conn:
                        await repository.reschedule(conn, job.order_id, delay, call.result.reason_code,
                                                    _holder(job, self.owner))
                    self.dispatch_later(job.order_id, delay)
                    BOSS_RETRIES.inc()
                    log.info("fulfilment retry scheduled", order_id=str(job.order_id), attempts=progress.attempts,
                             delay_s=round(delay, 3))
                    return False
                case Succeed():
                    assert call is not None
                    progress.serials.append(call.result.boss_serial)
                    if not last:
                        await self._log(job, op, kind, call, settled="succeeded")
                        progress.delivered.append(op.transaction_id)
                        return True
                    event = billing_pb2.FulfilmentSucceeded(order_id=str(job.order_id), attempts=progress.attempts,
                                                            boss_serials=progress.serials,
                                                            completed_at=to_timestamp(utcnow()))
                    if await self._end(job, "succeeded", "", event, decided_by=(op, kind, call, "succeeded")):
                        log.info("fulfilment succeeded", order_id=str(job.order_id), attempts=progress.attempts)
                    return False
                case Fail(reason_code=reason_code, reason=reason):
                    assert call is not None
                    settled = "failed" if call.result.outcome is Outcome.TERMINAL_FAILURE else "pending"
                    await self._fail(job, progress.attempts, reason_code, reason,
                                     decided_by=(op, kind, call, settled), progress=progress)
                    return False
                case Escalate(reason_code=reason_code):
                    await self._unknown(job, progress.attempts, reason_code,
                                        decided_by=None if logged or call is None else (op, kind, call, "pending"))
                    return False

    async def _write(self, job: Job, op: OperationRow, progress: Progress) -> tuple[int, Call]:
        """Send the write: (the operation's writes now, BOSS's answer). The write is counted before it is sent,
        in the statement that checks this worker still holds the job; a write the breaker keeps back is not."""
        writes = 0

        async def send() -> Call:
            nonlocal writes
            # BOSS applies it before this deadline or never; it is stored first, so that whoever holds the job
            # later knows until when a write whose answer was lost (or whose sender died) could still land
            deadline = utcnow() + timedelta(seconds=self.settings.boss_timeout_seconds)
            async with self.pool.acquire() as conn:
                sent = await repository.before_write(conn, job.order_id, op.transaction_id, _holder(job, self.owner),
                                                     self.settings.lease_seconds, deadline, self.policy.budget)
            if sent is None:
                raise LeaseLost(job.order_id)
            progress.attempts, writes = sent
            if op.kind == "credit":
                return await self.boss.credit(op.transaction_id, job.account_type, job.account_id, op.amount_fen,
                                              deadline=deadline)
            return await self.boss.data_pack(op.transaction_id, job.account_type, job.account_id, op.pack_code,
                                             deadline=deadline)

        call = await self.gate.call(op.kind, job.account_id, send)
        return writes, call

    async def _final_query(self, job: Job, op: OperationRow) -> Call:
        """Retries are spent and BOSS has not done the write, as far as its answers go. Before that is
        concluded (and the order refunded), no write of it may still be able to land: wait until the last
        deadline sent with one has passed (plus the clock skew allowed between BOSS and us), then ask again."""
        async with self.pool.acquire() as conn:
            deadline = await repository.write_deadline(conn, op.transaction_id)
            wait = 0.0 if deadline is None else max(
                0.0, (deadline - utcnow()).total_seconds() + self.settings.boss_clock_skew_seconds)
            # nobody else may write meanwhile: the lease covers the wait, the query and a margin
            if not await repository.hold_for(conn, job.order_id, _holder(job, self.owner),
                                             wait + 2 * self.settings.boss_timeout_seconds + 5):
                raise LeaseLost(job.order_id)
        if deadline is None:  # written without a deadline (an older adapter): no telling when it could land
            return Call(Classified(Outcome.UNKNOWN, "", policy.WITHOUT_DEADLINE), 0)
        await asyncio.sleep(wait)
        return await self.gate.call("status_query", job.account_id, lambda: self.boss.query(op.transaction_id))

    async def _unknown(self, job: Job, attempts: int, reason_code: str, *,
                       decided_by: tuple[OperationRow, str, Call, str] | None) -> None:
        await self._end(job, "unknown", reason_code, billing_pb2.FulfilmentOutcomeUnknown(
            order_id=str(job.order_id), attempts=attempts, reason_code=reason_code,
            reason="BOSS did not answer and its status queries could not tell", at=to_timestamp(utcnow())),
            decided_by=decided_by)
        log.warning("fulfilment outcome unknown; a person must decide", order_id=str(job.order_id))

    async def _ask(self, job: Job, op: OperationRow) -> tuple[Call, bool]:
        """Ask BOSS what happened, with bounded status queries: (the first clear answer, not yet logged) or (the
        last unclear one, logged like every unclear one before it)."""
        call = Call(Classified(Outcome.UNKNOWN, "", "BOSS_NO_ANSWER"), 0)
        for query in range(1, self.settings.status_queries + 1):
            await asyncio.sleep(self.settings.status_query_backoff_seconds * 2 ** (query - 1))
            call = await self.gate.call("status_query", job.account_id, lambda: self.boss.query(op.transaction_id))
            if call.result.outcome in _DECISIVE:
                return call, False
            await self._log(job, op, "status_query", call)
        return call, True

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
            BILLING_TOPIC, event, aggregate_type="order", aggregate_id=str(job.order_id)), _holder(job, self.owner))
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
