"""Smart batching: concurrent items coalesce while batches are in flight, each item gets its own result, and a
batch of several requests carries none of their contexts (trace, request id)."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

import pytest

from topup_platform.batching import MicroBatcher

REQUEST: ContextVar[str] = ContextVar("request", default="")


async def test_items_coalesce_under_load_and_each_gets_its_own_result() -> None:
    release = asyncio.Event()
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> list[int | BaseException]:
        batches.append(items)
        await release.wait()
        return [ValueError(f"bad {i}") if i < 0 else i * 10 for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(flush, max_batch=64, max_in_flight=1)
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0)  # the first goes alone, at once
    rest = [asyncio.create_task(batcher.submit(i)) for i in (2, -3, 4)]
    await asyncio.sleep(0)
    release.set()
    assert await first == 10
    results = await asyncio.gather(*rest, return_exceptions=True)
    assert results[0] == 20 and results[2] == 40 and isinstance(results[1], ValueError)
    assert batches == [[1], [2, -3, 4]]


async def test_a_batch_of_one_runs_in_its_request_context_and_of_many_in_none() -> None:
    seen: list[tuple[int, ...]] = []
    contexts: list[str] = []
    release = asyncio.Event()

    async def flush(items: list[int]) -> list[int]:
        seen.append(tuple(items))
        contexts.append(REQUEST.get())
        await release.wait()
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(flush, max_in_flight=1)

    async def submit(i: int) -> int:
        REQUEST.set(f"request-{i}")
        return await batcher.submit(i)

    tasks = [asyncio.create_task(submit(1))]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(submit(i)) for i in (2, 3)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*tasks) == [1, 2, 3]
    assert list(zip(seen, contexts, strict=True)) == [((1,), "request-1"), ((2, 3), "")]


@pytest.mark.parametrize("size", [1, 3])
async def test_a_failing_flush_fails_each_item_of_its_batch(size: int) -> None:
    async def flush(items: list[int]) -> list[int]:
        raise RuntimeError("the batch call failed")

    batcher: MicroBatcher[int, int] = MicroBatcher(flush, max_in_flight=1)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(size)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
