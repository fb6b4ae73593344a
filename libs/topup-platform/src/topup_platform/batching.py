"""Coalescing concurrent calls into batch calls ("smart batching").

Items wait only while `max_in_flight` batches are already out: with no load, every item goes alone and at
once (no timer, no added latency); under load, the items that arrive while batches are in flight go
together in the next one. That amortises the fixed cost of a gRPC call or a SQL statement over many
requests, which is what lets the synchronous path of a recharge hold its throughput target.

Each item gets its own result or its own exception: one bad item never fails the others.

A batch runs in the context of its item when it has one item (its trace, its request id), and in a fresh
context when it has several: it belongs to none of their requests, so it must not carry one of theirs (the
items carry their own trace context to the far side).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741


class MicroBatcher(Generic[I, O]):
    def __init__(
        self,
        #: returns, for each item, its result or the exception that item alone must raise
        flush: Callable[[list[I]], Awaitable[Sequence[O | BaseException]]],
        *,
        max_batch: int = 64,
        max_in_flight: int = 2,
    ) -> None:
        self._flush = flush
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self._queue: list[tuple[I, asyncio.Future[O], contextvars.Context]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: I) -> O:
        future: asyncio.Future[O] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future, contextvars.copy_context()))
        self._dispatch()
        return await future

    def _dispatch(self) -> None:
        while self._queue and self._in_flight < self.max_in_flight:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            self._in_flight += 1
            own = batch[0][2] if len(batch) == 1 else contextvars.Context()
            items = [(item, fut) for item, fut, _ in batch]
            task = asyncio.get_running_loop().create_task(self._run(items), context=own)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[I, asyncio.Future[O]]]) -> None:
        try:
            live = [(item, fut) for item, fut in batch if not fut.done()]  # callers that gave up are skipped
            if not live:
                return
            try:
                results = await self._flush([item for item, _ in live])
                if len(results) != len(live):
                    raise RuntimeError(f"batch flush returned {len(results)} results for {len(live)} items")
            except Exception as err:
                results = [err] * len(live)
            for (_, fut), result in zip(live, results, strict=True):
                if fut.done():
                    continue
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)
        finally:
            self._in_flight -= 1
            self._dispatch()
