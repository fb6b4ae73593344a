"""Carrying refunds to the providers: submit, then follow until settled.

A refund whose next step is due is claimed with a lease (one worker at a time, any replica). Its step:

* REQUESTED → submit. Accepted → SUBMITTED (settled at once if the provider says so). Refused → FAILED and a
  case. No answer → submit again after an exponential backoff with jitter, under the same refund id; after
  `max_attempts` the provider is asked whether it has the refund after all, and only if it does not know it
  does the refund fail (for a person: retry later, or pay back another way).
* SUBMITTED → query. Settled → SETTLED (RefundSettled: the order becomes REFUNDED). Refused at settlement →
  FAILED and a case. Still accepted → query again, the interval doubling up to `poll_cap_seconds`. Unknown
  to the provider → REQUESTED, submitted again.

The provider's notice (see `RefundsServicer.NotifyRefund`) usually settles a refund before the next query;
the queries are for the notices that never come.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

import asyncpg
import structlog

from refunds.domain.review import Path, path_of_rejection
from refunds.lifecycle import RefundBook
from refunds.provider import Accepted, Answer, NotFound, ProviderClient, Rejected, Transient
from refunds.repository import lease_due
from refunds.settings import RefundsSettings
from topup_platform import telemetry
from topup_platform.logging import get_logger
from topup_platform.retry import backoff

log = get_logger(__name__)


class RefundWorker:
    def __init__(self, pool: asyncpg.Pool, book: RefundBook, provider: ProviderClient,
                 settings: RefundsSettings) -> None:
        self.pool = pool
        self.book = book
        self.provider = provider
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.worker_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        book.on_new_work = self.wake

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                async with self.pool.acquire() as conn:
                    due = await lease_due(conn, self.owner, self.settings.lease_seconds,
                                          self.settings.worker_concurrency * 4)
                for refund in due:
                    task = asyncio.create_task(self._step_guarded(refund))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            except Exception:
                log.exception("refund scheduler poll failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.settings.worker_poll_seconds)

    async def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.settings.shutdown_grace_seconds)

    async def _step_guarded(self, refund: asyncpg.Record) -> None:
        async with self._slots:
            try:
                ids = {"topup.order_id": str(refund["order_id"]), "topup.refund_id": str(refund["refund_id"])}
                # the submission is part of the order's trace; each later status poll is a trace linked to it
                traced = (telemetry.continue_trace(refund["trace_context"], "refund order", attributes=ids)
                          if refund["status"] == "REQUESTED" else
                          telemetry.linked_trace(refund["trace_context"], "refund status poll", attributes=ids))
                with traced, structlog.contextvars.bound_contextvars(order_id=str(refund["order_id"])):
                    await self.step(refund)
            except Exception:
                log.exception("refund step failed; its lease will lapse and it will be tried again",
                              refund_id=str(refund["refund_id"]))

    async def step(self, refund: asyncpg.Record) -> None:
        provider, refund_id = refund["payment_method"], str(refund["refund_id"])
        if refund["status"] == "REQUESTED":
            answer = await self.provider.submit(provider, refund_id, refund["payment_transaction_id"],
                                                refund["amount_fen"], refund.get("payment_paid_fen"))
            if isinstance(answer, Transient) and refund["attempts"] + 1 >= self.settings.max_attempts:
                # before giving up, ask: a reply lost on the way may hide an accepted refund
                found = await self.provider.query(provider, refund_id)
                answer = found if isinstance(found, Accepted | Rejected) else answer
            await self._after_submit(refund, answer)
        else:
            await self._after_query(refund, await self.provider.query(provider, refund_id))

    async def _after_submit(self, refund: asyncpg.Record, answer: Answer) -> None:
        s = self.settings
        async with self.pool.acquire() as conn, conn.transaction():
            match answer:
                case Accepted(settled=True, provider_refund_no=no):
                    await self.book.settle(conn, refund["refund_id"], by="provider", what="settled_on_submission",
                                           provider_refund_no=no, expect=("REQUESTED",))
                case Accepted(provider_refund_no=no):
                    await self.book.submitted(conn, refund, no, s.poll_initial_seconds)
                case Rejected(reason_code=code, detail=detail):
                    await self.book.fail(conn, refund, reason_code=code, detail=detail or "the provider refused it",
                                         path=path_of_rejection(code), attempts=refund["attempts"] + 1)
                case Transient() | NotFound():
                    attempts = refund["attempts"] + 1
                    error = answer.error if isinstance(answer, Transient) else "the provider does not know it"
                    if attempts >= s.max_attempts:
                        await self.book.fail(conn, refund, reason_code="PROVIDER_UNAVAILABLE",
                                             detail=f"no answer after {attempts} submissions: {error}",
                                             path=Path.REFUND_EXHAUSTED, attempts=attempts)
                    else:
                        await self.book.later(conn, refund, what="provider_unavailable", error=error,
                                              attempts=attempts,
                                              delay=backoff(attempts, base=s.backoff_base_seconds,
                                                            cap=s.backoff_cap_seconds))
        self.book.outbox.wake()

    async def _after_query(self, refund: asyncpg.Record, answer: Answer) -> None:
        s = self.settings
        polls = refund["polls"] + 1
        async with self.pool.acquire() as conn, conn.transaction():
            match answer:
                case Accepted(settled=True, provider_refund_no=no):
                    await self.book.settle(conn, refund["refund_id"], by="provider", what="settled_by_query",
                                           provider_refund_no=no, expect=("SUBMITTED",))
                case Accepted():
                    await self.book.later(conn, refund, what="still_pending", error="", polls=polls,
                                          delay=min(s.poll_cap_seconds, s.poll_initial_seconds * 2 ** polls))
                case Rejected(reason_code=code, detail=detail):
                    await self.book.fail(conn, refund, reason_code=code,
                                         detail=detail or "the provider refused it at settlement",
                                         path=path_of_rejection(code))
                case NotFound():
                    await self.book.later(conn, refund, what="unknown_to_provider", to_status="REQUESTED",
                                          error="the provider does not know the refund: submitting it again",
                                          delay=0)
                case Transient(error=error):
                    await self.book.later(conn, refund, what="query_failed", error=error, polls=polls,
                                          delay=backoff(polls, base=s.backoff_base_seconds, cap=s.poll_cap_seconds))
        self.book.outbox.wake()
